// OwnSiloPlacement: places a worker grain on the silo whose name is the grain's key, and nowhere else.
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace DigitLab.Cluster;

/// <summary>The strategy behind <see cref="OwnSiloPlacementAttribute"/>.</summary>
[Serializable, GenerateSerializer, Immutable, Alias("DigitLab.OwnSiloPlacement")]
public sealed class OwnSiloPlacement : PlacementStrategy;

/// <summary>Places a grain with a string key on the Active silo of that name (Orleans' SiloRoleBasedPlacement matches the
/// assembly role, which every DigitLab silo shares, so it cannot tell workers apart).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class OwnSiloPlacementAttribute() : PlacementAttribute(new OwnSiloPlacement());

/// <summary>
/// A worker's grain lives on its own silo or not at all: once the silo is gone (declared dead) placing the grain fails,
/// so a submitter's call fails instead of starting an empty stand-in worker on another silo.
/// </summary>
internal sealed class OwnSiloPlacementDirector(IClusterMembershipService membership) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string name = target.GrainIdentity.Key.ToString()!;
        var silo = membership.CurrentSnapshot.Members.Values.FirstOrDefault(m => m.Status == SiloStatus.Active && m.Name == name)
                   ?? throw new SiloUnavailableException($"The worker '{name}' is not an active member of the cluster (it left or was declared dead).");
        return Task.FromResult(silo.SiloAddress);
    }
}
