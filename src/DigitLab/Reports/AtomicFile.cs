// AtomicFile: writes that never leave a half-written file behind (temporary file in the same folder, then rename).
using System.Text;

namespace DigitLab.Reports;

/// <summary>
/// Whole-file writes that a reader (or a crash) never sees half done: the bytes go to a uniquely named
/// temporary file beside the target, which is then renamed over it (a rename within a folder is atomic).
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark, atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/>, then renames it over the target.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // A fresh name per call: two writers of the same file (threads, tasks or processes) never share a temp file.
        string temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
