// Rng: a small seeded generator whose whole state can be saved and restored (resume needs that).
namespace DigitLab.Tensors;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Unlike <see cref="System.Random"/>, its state is four
/// ulongs that a checkpoint can store, so a resumed run draws exactly the numbers it would have.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>A generator for a sub-stream (e.g. one per purpose: init, shuffle, dropout), independent of the parent's draws.</summary>
    public static Rng Derive(ulong seed, string purpose)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over the purpose, mixed with the seed
        foreach (char c in purpose) { h ^= c; h *= 1099511628211UL; }
        return new Rng(seed ^ h);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 24 bits of precision.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>
    /// Fills <paramref name="values"/> with the next <see cref="NextFloat"/> draws, in order (the same numbers, the
    /// same state afterwards), with the state held in locals: about five times faster than a call per draw.
    /// </summary>
    public void NextFloats(Span<float> values)
    {
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int i = 0; i < values.Length; i++)
        {
            ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
            s2 ^= t;
            s3 = ulong.RotateLeft(s3, 45);
            values[i] = (result >> 40) * (1.0f / (1 << 24));
        }
        _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
    }

    /// <summary>
    /// Dropout's mask from the next <paramref name="mask"/>.Length draws, in order: <paramref name="keep"/> where the
    /// draw's 24 bits k (those <see cref="NextFloat"/> scales by 2⁻²⁴) are at least <paramref name="threshold"/>, else 0.
    /// The same state afterwards as <see cref="NextFloats"/> over the same span.
    /// </summary>
    public void NextDropMask(Span<float> mask, uint threshold, float keep)
    {
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        uint keepBits = BitConverter.SingleToUInt32Bits(keep);
        for (int i = 0; i < mask.Length; i++)
        {
            ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
            s2 ^= t;
            s3 = ulong.RotateLeft(s3, 45);
            // Branch-free (a drop is a coin flip, which a branch mispredicts): all ones when k < threshold, else zero.
            uint dropped = (uint)(((long)(result >> 40) - threshold) >> 63);
            mask[i] = BitConverter.UInt32BitsToSingle(keepBits & ~dropped);
        }
        _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
    }

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public float Uniform(float low, float high) => low + (high - low) * NextFloat();

    /// <summary>Uniform integer in [0, n), unbiased.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        ulong bound = (ulong)n;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return (int)(r % bound);
        }
    }

    /// <summary>Standard normal by Box-Muller.</summary>
    public float Normal()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>Fisher-Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>The whole state, for checkpoints.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException($"Rng state must have 4 words, found {state.Length}.");
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }
}
