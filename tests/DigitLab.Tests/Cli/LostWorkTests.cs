// LostWorkTests: `digitlab train` as a real process: a bad --out is refused before any data or batch, and SIGTERM saves a resumable checkpoint as Ctrl+C does.
using System.Runtime.InteropServices;
using DigitLab.Tests.Data;

namespace DigitLab.Tests.Cli;

public class LostWorkTests
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MkFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    private static string NeverCreatedDir() => Path.Combine(Path.GetTempPath(), "digitlab-never-" + Guid.NewGuid().ToString("N"));

    /// <summary>Runs train with <paramref name="output"/> as --out and a data folder that does not exist: the refusal must come first.</summary>
    private static async Task AssertRefusedBeforeWork(string output, params string[] fragments)
    {
        string never = NeverCreatedDir();
        var r = await CliProcess.RunAsync(Quick, "train", "--model", "mlp", "--epochs", "1", "--data-dir", never, "--out", output);
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Out}\n{r.Error}");
        Assert.Contains("error: ", r.Error);
        Assert.Contains("--out", r.Error);
        foreach (var f in fragments) Assert.Contains(f, r.Error);
        Assert.DoesNotContain("   at ", r.Error);
        Assert.False(Directory.Exists(never), "the data folder was touched before --out was checked");
    }

    [Fact]
    public async Task Out_ADirectory_IsRefusedBeforeTraining()
    {
        using var dir = new SyntheticData.TempDir();
        await AssertRefusedBeforeWork(dir.Path, "is a directory");
    }

    [Fact]
    public async Task Out_Empty_IsRefused() => await AssertRefusedBeforeWork("", "--out is empty");

    [Fact]
    public async Task Out_UnderAFile_IsRefused()
    {
        using var dir = new SyntheticData.TempDir();
        File.WriteAllText(dir.File("notes.txt"), "a file, not a folder");
        await AssertRefusedBeforeWork(Path.Combine(dir.File("notes.txt"), "m.safetensors"), "cannot be written");
    }

    [Fact]
    public async Task Out_InAFolderThatCannotBeWritten_IsRefused()
    {
        if (Environment.UserName == "root" || geteuid() == 0)
        {
            // Root writes through permissions; /proc takes no new files even from root.
            await AssertRefusedBeforeWork("/proc/digitlab-test/m.safetensors", "cannot be written");
            return;
        }
        using var dir = new SyntheticData.TempDir();
        string locked = dir.File("locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try { await AssertRefusedBeforeWork(Path.Combine(locked, "m.safetensors"), "cannot be written"); }
        finally { File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
    }

    [DllImport("libc")]
    private static extern uint geteuid();

    [Fact]
    public async Task Out_ASpecialFile_IsRefused_AndLeftAsItWas()
    {
        using var dir = new SyntheticData.TempDir();
        string fifo = dir.File("pipe");
        Assert.Equal(0, MkFifo(fifo, 0x1B6)); // 0666
        await AssertRefusedBeforeWork(fifo, "FIFO", "not a regular file");
        Assert.Equal("FIFO (named pipe)", DigitLab.IO.OutputPath.FileType(fifo)); // still a FIFO, not replaced by a checkpoint
    }

    [Fact]
    public async Task Sigterm_DuringTraining_SavesAResumableCheckpoint_ThenExits()
    {
        using var dir = new SyntheticData.TempDir();
        string checkpoint = dir.File("m.safetensors");
        using var run = CliProcess.Start("train", "--model", "mlp", "--epochs", "20", "--seed", "3", "--out", checkpoint);
        Assert.True(run.WaitForOutput("parameters) on", Quick), "training did not start:\n" + run.Out);
        Thread.Sleep(500); // into the first epoch
        run.Terminate();
        var r = await run.WaitAsync(Quick);
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}\n{r.Out}\n{r.Error}");
        Assert.Contains("SIGTERM", r.Error);
        Assert.Contains("Checkpoint saved", r.Out);
        Assert.True(File.Exists(checkpoint), "no checkpoint saved");
        Assert.False(DigitLab.Training.RunLog.Load(dir.File("m.json")).Complete); // a paused run, resumable
    }
}
