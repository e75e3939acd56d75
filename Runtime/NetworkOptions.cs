namespace Unroll;

/// <summary>Construction options of a generated network.</summary>
public sealed class NetworkOptions
{
    /// <summary>Instruction set to run; by default the fastest this machine supports (or <see cref="IsaSupport.EnvironmentVariable"/>).</summary>
    public Isa? Isa { get; set; }

    /// <summary>Threads a forward pass splits the batch over; by default the processor count.</summary>
    public int? Threads { get; set; }

    /// <summary>Seed of the parameter initialisation and of the dropout masks in training (see <see cref="Kernels.DropoutNoise"/>); 0 by default.</summary>
    public int Seed { get; set; }
}
