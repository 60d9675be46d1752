// DigitLabOptions: where models and data live, and whether state-changing calls need the start-up token.
using System.Net;
using System.Security.Cryptography;

namespace DigitLab.Web.Services;

/// <summary>Settings of the web app, from configuration ("DigitLab:..."), environment, or defaults.</summary>
public sealed class DigitLabOptions
{
    /// <summary>The default address: loopback only, so nothing outside this machine can reach the app unless asked.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>The header that carries the token for starting, cancelling and activating.</summary>
    public const string TokenHeader = "X-DigitLab-Token";

    public required string ModelsDirectory { get; init; }
    public required string DataDirectory { get; init; }

    /// <summary>
    /// True when bound to anything but loopback (or forced by "DigitLab:RequireToken"). Until the server has bound its
    /// addresses this is true (closed): <see cref="ApplyBoundAddresses"/> decides from what was actually bound.
    /// </summary>
    public bool RequireToken { get => _requireToken; init => _requireToken = value; }
    private volatile bool _requireToken = true;

    /// <summary>True when "DigitLab:RequireToken" set <see cref="RequireToken"/>: the bound addresses then do not change it.</summary>
    public bool TokenForced { get; init; }

    /// <summary>True once the server listens on loopback addresses only (see <see cref="ApplyBoundAddresses"/>): the Host header must then name loopback too.</summary>
    public bool LoopbackOnly => _loopbackOnly;
    private volatile bool _loopbackOnly;

    /// <summary>
    /// Decides from the addresses the server actually bound (its addresses feature after start), not from the "urls"
    /// setting, which Kestrel endpoint configuration overrides. No address at all means an in-memory test server.
    /// </summary>
    public void ApplyBoundAddresses(IReadOnlyCollection<string> addresses)
    {
        bool loopback = AllLoopback(string.Join(';', addresses));
        _loopbackOnly = loopback;
        if (!TokenForced) _requireToken = !loopback;
    }
    public required string Token { get; init; }

    /// <summary>Kernel threads for predictions and model tests ("DigitLab:PredictionThreads"; 0 = all cores).</summary>
    public int PredictionThreads { get; init; }

    /// <summary>
    /// Where the Train page's jobs (training and fine-tuning) run ("DigitLab:Device": cpu, cuda or auto; default cpu). Predictions
    /// stay on the CPU engine whatever this says: one drawing takes well under a millisecond there, less than a round trip to a GPU.
    /// </summary>
    public DigitLab.Gpu.ComputeDevice TrainingDevice { get; init; } = DigitLab.Gpu.ComputeDevice.Cpu;

    /// <summary>Reads DigitLab:ModelsDir / DIGITLAB_MODELS, DigitLab:DataDir / DIGITLAB_DATA, DigitLab:RequireToken, DigitLab:Token, DigitLab:PredictionThreads, DigitLab:Device.</summary>
    public static DigitLabOptions From(IConfiguration configuration)
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string models = configuration["DigitLab:ModelsDir"] ?? Environment.GetEnvironmentVariable("DIGITLAB_MODELS")
            ?? Path.Combine(home, ".digitlab", "models");
        string data = configuration["DigitLab:DataDir"] ?? Environment.GetEnvironmentVariable("DIGITLAB_DATA")
            ?? Path.Combine(home, ".digitlab", "data");
        bool isForced = bool.TryParse(configuration["DigitLab:RequireToken"], out var forced);
        bool require = isForced ? forced : true; // decided from the bound addresses once the server has started
        string token = configuration["DigitLab:Token"] ?? Environment.GetEnvironmentVariable("DIGITLAB_TOKEN")
            ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        int threads = int.TryParse(configuration["DigitLab:PredictionThreads"], out var t) ? t : 0;
        if (threads < 0 || threads > Runtime.ComputeContext.MaxThreads)
            throw new ArgumentException($"DigitLab:PredictionThreads must be 0 (all cores) or 1..{Runtime.ComputeContext.MaxThreads}; found {threads}.");
        DigitLab.Gpu.ComputeDevice device;
        try { device = DigitLab.Gpu.GpuDevice.Parse(configuration["DigitLab:Device"] ?? "cpu"); }
        catch (ArgumentException e) { throw new ArgumentException($"DigitLab:Device: {e.Message}", e); }
        return new DigitLabOptions { ModelsDirectory = models, DataDirectory = data, RequireToken = require, TokenForced = isForced, Token = token, PredictionThreads = threads, TrainingDevice = device };
    }

    /// <summary>True when every URL in the ';'-separated list binds a loopback host (localhost, 127.x.x.x, [::1]).</summary>
    public static bool AllLoopback(string urls)
    {
        foreach (var raw in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel accepts wildcards such as http://*:5080 and http://+:5080, which Uri cannot parse: those bind everything.
            var url = raw.Replace("://*", "://wildcard.invalid").Replace("://+", "://wildcard.invalid");
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return false;
            if (uri.Host == "localhost") continue;
            if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address)) continue;
            return false;
        }
        return true;
    }

    /// <summary>Constant-time comparison of a presented token.</summary>
    public bool Accepts(string? presented) =>
        !RequireToken || (presented is not null &&
            CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(presented), System.Text.Encoding.UTF8.GetBytes(Token)));
}
