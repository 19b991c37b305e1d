using System.Runtime.InteropServices;
using TorchSharp;

namespace Asdt.Models;

/// <summary>
/// Turns libtorch's NNPACK convolution backend off, the way PyTorch's <c>torch.backends.nnpack.set_flags(False)</c> does.
/// <para>Why: for a convolution that oneDNN declines (a small input at batch 1 without gradients: the report's and the
/// checkpoint selection's heat maps, the doctor's scan) libtorch asks whether NNPACK is available before it looks at the
/// batch size, and on a CPU NNPACK does not support (this project's AMD EPYC hosts) every such call prints
/// "Could not initialize NNPACK! Reason: Unsupported hardware": 138 lines in the README demo's report step.
/// NNPACK would only ever be picked for batches of 16 or more, which oneDNN takes first, so switching it off changes
/// no kernel choice; it only removes the check and its warning.</para>
/// <para>TorchSharp 0.107 has no NNPACK switch, so this calls libtorch's own <c>at::Context::setUserEnabledNNPACK</c>,
/// an exported C++ symbol (Itanium ABI names: Linux and macOS). Elsewhere, or if the symbol is missing from a future
/// libtorch, it does nothing and reports false: the warnings come back, nothing else changes.</para>
/// </summary>
public static class NnpackSwitch
{
    const string LibTorchCpu = "libtorch_cpu";

    [DllImport(LibTorchCpu, EntryPoint = "_ZN2at13globalContextEv")]
    static extern IntPtr GlobalContext();

    [DllImport(LibTorchCpu, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(LibTorchCpu, EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    static extern bool UserEnabledNnpack(IntPtr context);

    static readonly Lazy<bool> Disabled = new(Disable);

    /// <summary>Switches NNPACK off once per process; true when libtorch now reports it off.</summary>
    public static bool EnsureOff() => Disabled.Value;

    /// <summary>libtorch's own flag (<c>at::globalContext().userEnabledNNPACK()</c>), or null where it cannot be read.</summary>
    public static bool? Enabled()
    {
        if (!ItaniumAbi) return null;
        try
        {
            LoadLibTorch();
            return UserEnabledNnpack(GlobalContext());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    static bool ItaniumAbi => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS();

    /// <summary>TorchSharp loads libtorch on first use; our imports then bind to the copy already in the process.</summary>
    static void LoadLibTorch() => torch.get_num_threads();

    static bool Disable()
    {
        if (!ItaniumAbi) return false;
        try
        {
            LoadLibTorch();
            SetUserEnabledNnpack(GlobalContext(), false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
        return Enabled() == false;
    }
}
