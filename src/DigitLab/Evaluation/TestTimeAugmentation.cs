// TestTimeAugmentation: fixed views of every image (whole-pixel shifts) whose predicted probabilities are averaged.
using DigitLab.Data;

namespace DigitLab.Evaluation;

/// <summary>
/// A set of deterministic views of each image for test-time augmentation: the model (or every ensemble member) sees
/// each view and the class probabilities are averaged over them.
/// </summary>
/// <remarks>
/// Views are whole-pixel shifts, so they need no interpolation and are the same on every machine; pixels shifted in
/// from outside the frame are background (raw 0, normalised). The `best` recipe trains with shifts of up to 2 pixels,
/// so a one-pixel shift is a view the model has learned to read. Whether a set of views helps is a choice to make on
/// the validation split (<c>digitlab evaluate --split validation --tta ...</c>), never on the test set.
/// </remarks>
public sealed class TestTimeAugmentation
{
    private const int N = MnistDataset.Rows;

    /// <summary>The name the command line uses.</summary>
    public string Name { get; }

    /// <summary>The views as (dx, dy) shifts: a view's pixel (x, y) is the image's pixel (x − dx, y − dy). (0, 0) is the image itself.</summary>
    public IReadOnlyList<(int Dx, int Dy)> Shifts { get; }

    private TestTimeAugmentation(string name, (int, int)[] shifts) { Name = name; Shifts = shifts; }

    /// <summary>The image alone (no test-time augmentation).</summary>
    public static TestTimeAugmentation None { get; } = new("none", [(0, 0)]);

    /// <summary>The image and its four one-pixel shifts (left, right, up, down): 5 views.</summary>
    public static TestTimeAugmentation Shift4 { get; } = new("shift4", [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]);

    /// <summary>The image and its eight one-pixel shifts (the four sides and the four diagonals): 9 views.</summary>
    public static TestTimeAugmentation Shift8 { get; } = new("shift8", [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]);

    public static IReadOnlyList<string> Names { get; } = ["none", "shift4", "shift8"];

    public static TestTimeAugmentation Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "none" or "" => None,
        "shift4" => Shift4,
        "shift8" => Shift8,
        _ => throw new ArgumentException($"Unknown test-time augmentation '{name}'. Use one of: {string.Join(", ", Names)}."),
    };

    /// <summary>
    /// Writes view (<paramref name="dx"/>, <paramref name="dy"/>) of <paramref name="count"/> normalised 28×28 images:
    /// destination(x, y) = source(x − dx, y − dy), and <paramref name="background"/> where that falls outside the frame.
    /// </summary>
    public static void Shift(ReadOnlySpan<float> source, Span<float> destination, int count, int dx, int dy, float background)
    {
        int pixels = MnistDataset.Pixels;
        if (source.Length < count * pixels || destination.Length < count * pixels)
            throw new ArgumentException($"Shift needs {count} images of {N}x{N} ({count * pixels} floats) in and out; found {source.Length} and {destination.Length}.");
        if (Math.Abs(dx) >= N || Math.Abs(dy) >= N)
            throw new ArgumentOutOfRangeException(nameof(dx), $"A shift must be smaller than the image ({N} pixels); found ({dx}, {dy}).");
        // Destination columns [x0, x1) read source columns [x0 − dx, x1 − dx); the rest of each row is background.
        int x0 = Math.Max(0, dx), x1 = Math.Min(N, N + dx), width = x1 - x0;
        for (int i = 0; i < count; i++)
        {
            var src = source.Slice(i * pixels, pixels);
            var dst = destination.Slice(i * pixels, pixels);
            for (int y = 0; y < N; y++)
            {
                var row = dst.Slice(y * N, N);
                int sy = y - dy;
                if ((uint)sy >= N) { row.Fill(background); continue; }
                row[..x0].Fill(background);
                src.Slice(sy * N + x0 - dx, width).CopyTo(row.Slice(x0, width));
                row[x1..].Fill(background);
            }
        }
    }

    public override string ToString() => $"{Name} ({Shifts.Count} view{(Shifts.Count == 1 ? "" : "s")})";
}
