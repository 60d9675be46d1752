// OutputPath: checks before any work that an output file can be written (a probe file beside it), so a long run is not thrown away at the end over a bad path.
using System.Runtime.InteropServices;

namespace DigitLab.IO;

/// <summary>
/// The check a command runs on its output paths before it starts: each must be a regular file or not exist yet, and
/// its folder must take a new file (the probe: create, write, flush and delete a temporary file beside it, as the
/// atomic save later will).
/// </summary>
/// <remarks>
/// Refused, with a message naming the option: an empty path; an existing directory; anything existing that is not a
/// regular file (a device such as /dev/null, a FIFO, a socket: the atomic save's rename would replace it); a folder
/// that cannot be created (a path under a file); a folder without write permission or on a read-only file system.
/// A missing folder is created, as the save would create it.
/// </remarks>
public static class OutputPath
{
    /// <summary>Checks every path; <paramref name="option"/> (e.g. "--out") names where it came from.</summary>
    /// <exception cref="ArgumentException">Empty, a directory, or not a regular file.</exception>
    /// <exception cref="IOException">The folder cannot be created or written.</exception>
    public static void Check(string option, params string[] paths)
    {
        foreach (var path in paths) CheckOne(option, path);
    }

    private static void CheckOne(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"{option} is empty: give a file path, such as runs/model.safetensors.");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ArgumentException($"{option} '{path}' is a directory: give a file path, such as {Path.Combine(path, "model.safetensors")}.");
        if (File.Exists(full) && FileType(full) is { } type && type != "regular file")
            throw new ArgumentException($"{option} '{path}' is a {type}, not a regular file: saving would replace it. Give the path of a regular file.");
        string folder = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.probe");
            try
            {
                using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
                {
                    stream.WriteByte(0);
                    stream.Flush(flushToDisk: true);
                }
            }
            finally
            {
                if (File.Exists(probe)) File.Delete(probe);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} '{path}' cannot be written: {e.Message} Choose a path in a folder you can write to.", e);
        }
    }

    /// <summary>What kind of file system object <paramref name="path"/> is (following links); null where the platform cannot say.</summary>
    internal static string? FileType(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        // statx(2)'s struct statx has one layout on every Linux architecture; stx_mode (u16) sits at byte 28.
        Span<byte> buffer = stackalloc byte[256];
        int rc;
        try { rc = Statx(AtFdCwd, path, 0, StatxType, ref MemoryMarshal.GetReference(buffer)); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { return null; }
        if (rc != 0) return null;
        int mode = BitConverter.ToUInt16(buffer[28..30]) & 0xF000;
        return mode switch
        {
            0x8000 => "regular file",
            0x4000 => "directory",
            0x2000 => "character device",
            0x6000 => "block device",
            0x1000 => "FIFO (named pipe)",
            0xC000 => "socket",
            _ => "special file",
        };
    }

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, ref byte buffer);
}
