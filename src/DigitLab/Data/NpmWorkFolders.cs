// NpmWorkFolders: the temporary folders the npm step unpacks into, each marked with its process id so the next fetch can remove those a killed run left behind.
using System.Diagnostics;

namespace DigitLab.Data;

/// <summary>
/// <c>digitlab-npm-GUID</c> folders under the temporary directory. A run killed mid-fetch (kill -9, power loss) cannot
/// delete its folder (an 11 MB tarball and its contents); the next fetch does: a folder whose owner process is gone, or,
/// without an owner file, one older than the npm timeout. A folder of a fetch still running elsewhere is left alone.
/// </summary>
public static class NpmWorkFolders
{
    public const string Prefix = "digitlab-npm-";
    public const string OwnerFile = "owner.pid";

    /// <summary>Removes leftovers, then creates a fresh folder owned by this process.</summary>
    public static string Create(TimeSpan npmTimeout, string? tempDirectory = null)
    {
        string root = tempDirectory ?? Path.GetTempPath();
        CleanLeftovers(root, npmTimeout);
        string work = Path.Combine(root, Prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return work;
    }

    /// <summary>Deletes the folders whose owner is no longer running; returns how many were removed.</summary>
    public static int CleanLeftovers(string root, TimeSpan npmTimeout)
    {
        int removed = 0;
        IEnumerable<string> folders;
        try { folders = Directory.EnumerateDirectories(root, Prefix + "*").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
        foreach (var folder in folders)
        {
            if (!Abandoned(folder, npmTimeout)) continue;
            try { Directory.Delete(folder, recursive: true); removed++; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // another user's, or going away: not ours to force
        }
        return removed;
    }

    private static bool Abandoned(string folder, TimeSpan npmTimeout)
    {
        string owner = Path.Combine(folder, OwnerFile);
        try
        {
            if (File.Exists(owner) && int.TryParse(File.ReadAllText(owner).Trim(), out int pid))
                return pid != Environment.ProcessId && !Running(pid);
            // No owner recorded (written by an older DigitLab, or killed before it wrote one): judge by age.
            return DateTime.UtcNow - Directory.GetLastWriteTimeUtc(folder) > npmTimeout * 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static bool Running(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }
}
