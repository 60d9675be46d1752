// AtomicFile: the one way DigitLab writes a file: a temporary file beside the target, flushed to disk, then renamed over it.
using System.Text;

namespace DigitLab.IO;

/// <summary>
/// Whole-file writes that a reader (or a crash, or a power cut) never sees half done: the bytes go to a uniquely named
/// temporary file beside the target (<c>NAME.tmp-PID-GUID</c>), are flushed to the disk, and the file is then renamed
/// over the target (a rename within a folder is atomic). On failure the temporary file is removed.
/// </summary>
public static class AtomicFile
{
    /// <summary>What every temporary file's name contains after the target's name (tests look for leftovers by it).</summary>
    public const string TempMarker = ".tmp-";

    /// <summary>A fresh temporary name beside <paramref name="fullPath"/>: two writers of one file never share a temporary file.</summary>
    public static string TempPathFor(string fullPath) => $"{fullPath}{TempMarker}{Environment.ProcessId}-{Guid.NewGuid():N}";

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark, atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>Writes <paramref name="bytes"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Prepare(path), temp = TempPathFor(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally { TryDelete(temp); }
    }

    /// <summary>Writes what <paramref name="write"/> puts into the stream, atomically (for files too large to build in memory first).</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Prepare(path), temp = TempPathFor(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally { TryDelete(temp); }
    }

    private static string Prepare(string path)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        return full;
    }

    private static void TryDelete(string temp)
    {
        try { if (File.Exists(temp)) File.Delete(temp); }
        catch (IOException) { } // the original error (or the successful rename) is what matters
    }
}
