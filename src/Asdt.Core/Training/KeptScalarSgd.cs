using Asdt.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// TorchSharp's SGD (same parameter groups, momentum buffers and saved state) with a step that holds its
/// Scalars (weight decay, 1 − dampening, momentum, −lr) for the whole step. TorchSharp 0.107's own step turns
/// those numbers into temporary Scalars for every parameter, which a GC on another thread can finalise while
/// libtorch reads them (see <see cref="KeptScalar"/>). The update is PyTorch's:
/// g ← g + λ·p; b ← μ·b + (1 − d)·g (b ← g at the first step); g ← b (or g + μ·b with Nesterov); p ← p − lr·g.
/// Its state is saved in TorchSharp's SGD format (<see cref="SaveState"/>), so checkpoints written before this class
/// existed still resume and the other way round.
/// </summary>
public sealed class KeptScalarSgd(IEnumerable<SGD.ParamGroup> groups, double learningRate, double momentum, double weightDecay)
    : SGD(groups, learningRate, momentum, 0, weightDecay)
{
    /// <summary>TorchSharp's <c>save_state_dict</c> bytes, under the type name "SGD" (the state is SGD's).</summary>
    public byte[] SaveState()
    {
        using var ours = new MemoryStream();
        using (var w = new BinaryWriter(ours, System.Text.Encoding.UTF8, leaveOpen: true)) save_state_dict(w);
        return Renamed(ours.ToArray(), nameof(SGD));
    }

    /// <summary>Loads a state saved by <see cref="SaveState"/> or by TorchSharp's SGD.</summary>
    public void LoadState(byte[] state)
    {
        using var reader = new BinaryReader(new MemoryStream(Renamed(state, GetType().Name)));
        load_state_dict(reader);
    }

    /// <summary>The state stream with its leading optimizer type name replaced (SGD and KeptScalarSgd states are the same).</summary>
    static byte[] Renamed(byte[] state, string typeName)
    {
        using var input = new BinaryReader(new MemoryStream(state));
        string name = input.ReadString();
        if (name != nameof(SGD) && name != nameof(KeptScalarSgd))
            throw new InvalidDataException($"the optimizer state is a '{name}' state, not an SGD state");
        using var output = new MemoryStream();
        using (var w = new BinaryWriter(output, System.Text.Encoding.UTF8, leaveOpen: true)) w.Write(typeName);
        input.BaseStream.CopyTo(output);
        return output.ToArray();
    }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double decay = o.weight_decay!.Value, mu = o.momentum!.Value;
        using var decayScalar = decay.ToScalar();
        using var momentumScalar = mu.ToScalar();
        using var keepScalar = (1 - o.dampening!.Value).ToScalar();
        using var stepScalar = (o.maximize!.Value ? o.LearningRate!.Value : -o.LearningRate!.Value).ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            if (decay != 0) grad = grad.add(param, decayScalar);
            if (mu != 0)
            {
                var state = (State)_state[param.Handle];
                var buffer = state.momentum_buffer;
                if (buffer is null) state.momentum_buffer = buffer = grad.clone().detach().DetachFromDisposeScope();
                else buffer.mul_(momentumScalar).add_(grad, keepScalar);
                grad = o.nesterov!.Value ? grad.add(buffer, momentumScalar) : buffer;
            }
            param.add_(grad, stepScalar);
        }
    }, closure);
}
