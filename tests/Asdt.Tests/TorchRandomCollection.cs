namespace Asdt.Tests;

/// <summary>
/// Tests that train in-process and check quality thresholds depend on the sequence of torch's global
/// random generator (weight init, dropout). Other test classes running in parallel would draw from the
/// same generator, so these run alone, after the parallel ones, and are repeatable.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRandomCollection
{
    public const string Name = "torch global random generator";
}
