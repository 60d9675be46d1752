// ClusterHosting: starts the Orleans silos (embedded or a Redis-clustered worker) and the submitter's client, with DigitLab's settings.
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace DigitLab.Cluster;

/// <summary>A cluster address: "redis://HOST:PORT" (Orleans' Redis membership table), parsed at the edge.</summary>
public sealed record ClusterAddress(string Host, int Port)
{
    public static ClusterAddress Parse(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "redis" || string.IsNullOrEmpty(uri.Host) || uri.Port <= 0)
            throw new ArgumentException($"--cluster '{text}' is not a cluster address; expected redis://HOST:PORT (the Redis server that holds the membership table, e.g. redis://10.0.0.5:6379).");
        return new ClusterAddress(uri.Host, uri.Port);
    }

    public string RedisConfiguration => $"{Host}:{Port},abortConnect=false";

    public bool IsLoopback => Host == "localhost" || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    public override string ToString() => $"redis://{Host}:{Port}";
}

/// <summary>Builds and starts the silos and clients; one place for the cluster's timing settings.</summary>
public static class ClusterHosting
{
    public const string ClusterId = "digitlab";
    public const string WorkerPrefix = "digitlab-worker-";

    /// <summary>
    /// How fast a dead worker is noticed. Each silo probes <c>NumProbedSilos</c> others every <see cref="ProbeTimeout"/>;
    /// after <see cref="MissedProbes"/> missed probes it votes the silo dead, and one vote is enough here (a lab's few
    /// machines, not a data centre where one flaky link should not evict a silo). A killed process refuses connections,
    /// so its probes fail at once: detection takes about MissedProbes × ProbeTimeout plus a membership-table round trip,
    /// about 4–6 s. Orleans' defaults (10 s probes, 3 misses, 2 votes) take 30 s and more.
    /// </summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    public const int MissedProbes = 2;

    /// <summary>
    /// Every DigitLab grain call returns at once (trials run outside grain turns), so a call that takes longer than
    /// this means a worker is gone or stalled; the submitter then checks membership rather than waiting Orleans' 30 s.
    /// </summary>
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A silo name unique to this process: the role <see cref="TrialWorkerGrain"/> is placed by.</summary>
    public static string NewWorkerName() => $"{WorkerPrefix}{Dns.GetHostName()}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>
    /// An in-process silo on loopback (localhost clustering, free ports so that several sweeps on one machine never
    /// collide) with <paramref name="slots"/> trial slots. Its <see cref="IClusterClient"/> is the submitter's.
    /// </summary>
    public static async Task<IHost> StartEmbeddedAsync(int slots, ITrialData data, CancellationToken ct = default)
    {
        string name = NewWorkerName();
        int siloPort = FreePort(), gatewayPort = FreePort();
        var host = NewHostBuilder()
            .UseOrleans(silo =>
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: ClusterId, clusterId: $"{ClusterId}-embedded-{name}");
                ConfigureSilo(silo, name, slots, data);
            })
            .Build();
        await host.StartAsync(ct);
        return host;
    }

    /// <summary>A worker silo that joins the cluster whose membership table is at <paramref name="address"/>.</summary>
    /// <param name="advertise">The address other machines reach this one at; null picks loopback for a loopback Redis, else this machine's first IPv4 address.</param>
    public static async Task<IHost> StartWorkerAsync(ClusterAddress address, string name, int slots, ITrialData data, IPAddress? advertise, CancellationToken ct = default)
    {
        var ip = advertise ?? (address.IsLoopback ? IPAddress.Loopback : FirstIPv4());
        int siloPort = FreePort(), gatewayPort = FreePort();
        var host = NewHostBuilder()
            .UseOrleans(silo =>
            {
                silo.UseRedisClustering(address.RedisConfiguration);
                silo.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ClusterId; });
                silo.ConfigureEndpoints(ip, siloPort, gatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(ip));
                ConfigureSilo(silo, name, slots, data);
            })
            .Build();
        await host.StartAsync(ct);
        return host;
    }

    /// <summary>A client of the cluster at <paramref name="address"/>: the submitter of `sweep --cluster` and `train --cluster`.</summary>
    public static async Task<IHost> StartClientAsync(ClusterAddress address, CancellationToken ct = default)
    {
        var host = NewHostBuilder()
            .UseOrleansClient(client =>
            {
                client.UseRedisClustering(address.RedisConfiguration);
                client.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ClusterId; });
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
            })
            .Build();
        await host.StartAsync(ct);
        return host;
    }

    /// <summary>
    /// A quiet host: no console lifetime (the CLI handles Ctrl+C and SIGTERM itself), Orleans' own log only when
    /// DIGITLAB_CLUSTER_LOG is set (to a level: Information, Warning, ...), for diagnosing a cluster.
    /// </summary>
    private static IHostBuilder NewHostBuilder() => new HostBuilder()
        .ConfigureServices(s => s.AddSingleton<IHostLifetime, QuietLifetime>())
        .ConfigureLogging(l =>
        {
            l.ClearProviders();
            if (Environment.GetEnvironmentVariable("DIGITLAB_CLUSTER_LOG") is { Length: > 0 } level && Enum.TryParse<LogLevel>(level, true, out var min))
            {
                l.AddSimpleConsole(o => o.SingleLine = true);
                l.SetMinimumLevel(min);
            }
        });

    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static void ConfigureSilo(ISiloBuilder silo, string name, int slots, ITrialData data)
    {
        silo.Configure<SiloOptions>(o => o.SiloName = name);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = ProbeTimeout;
            o.NumMissedProbesLimit = MissedProbes;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        });
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
        silo.Services.AddPlacementDirector<OwnSiloPlacement, OwnSiloPlacementDirector>();
        silo.Services.AddSingleton(new WorkerSettings(name, slots, data));
        silo.Services.AddSingleton<TrialSlots>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<TrialSlots>());
    }

    /// <summary>A TCP port free on loopback right now (the OS picks it).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IPAddress FirstIPv4() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? IPAddress.Loopback;
}
