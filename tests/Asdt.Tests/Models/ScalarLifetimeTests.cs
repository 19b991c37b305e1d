using System.Reflection;
using Asdt.Models;
using Asdt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

/// <summary>
/// The TorchSharp Scalar finalizer race (docs/robustness.md, bench scalar-race): no method of ours may call a
/// TorchSharp method that makes a temporary <see cref="Scalar"/> (an implicit number → Scalar conversion, or a
/// TorchSharp method that does one inside, like <c>Tensor + Tensor</c> with its alpha of 1). The risky TorchSharp
/// methods are found by reading TorchSharp's IL, so a TorchSharp upgrade is covered too.
/// </summary>
public class ScalarLifetimeTests
{
    const BindingFlags All = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    static IEnumerable<MethodBase> Methods(Assembly assembly) =>
        assembly.GetTypes().SelectMany(t => t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)));

    /// <summary>Methods a method calls (call, callvirt, newobj) or turns into delegates (ldftn, ldvirtftn).</summary>
    static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { yield break; }
        if (il is null) yield break;
        var type = method.DeclaringType!;
        for (int i = 0; i + 4 < il.Length; i++)
        {
            int at = il[i] is 0x28 or 0x6F or 0x73 ? i + 1 : il[i] == 0xFE && il[i + 1] is 0x06 or 0x07 ? i + 2 : -1;
            if (at < 0 || at + 4 > il.Length) continue;
            MethodBase? callee = null;
            try
            {
                callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, at),
                    type.IsGenericType ? type.GetGenericArguments() : null, method.IsGenericMethod ? method.GetGenericArguments() : null);
            }
            catch (ArgumentException) { }   // the bytes were an operand, not an opcode
            if (callee is not null) yield return callee;
        }
    }

    static bool MakesScalar(MethodBase m) =>
        m.DeclaringType == typeof(Scalar) && m.Name == "op_Implicit" || m.Name == "ToScalar" && m.DeclaringType?.Assembly == typeof(Scalar).Assembly;

    /// <summary>TorchSharp methods that make a temporary Scalar themselves or through the TorchSharp methods they call.</summary>
    static HashSet<MethodBase> RiskyTorchSharpMethods()
    {
        var torchSharp = typeof(Scalar).Assembly;
        var methods = Methods(torchSharp).ToList();
        var calls = methods.ToDictionary(m => m, m => Callees(m).Where(c => c.Module == torchSharp.ManifestModule && c.DeclaringType != typeof(Scalar)).ToList());
        var risky = methods.Where(m => m.DeclaringType != typeof(Scalar) && Callees(m).Any(MakesScalar)).ToHashSet();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var m in methods)
                if (!risky.Contains(m) && calls[m].Any(risky.Contains)) { risky.Add(m); grew = true; }
        }
        return risky;
    }

    [Fact]
    public void TheScanFindsTheKnownRiskyTorchSharpMethods()
    {
        var names = RiskyTorchSharpMethods().Select(m => $"{m.DeclaringType!.Name}.{m.Name}({string.Join(",", m.GetParameters().Select(p => p.ParameterType.Name))})").ToHashSet();
        Assert.Contains("Tensor.add(Tensor)", names);             // alpha = 1
        Assert.Contains("Tensor.add_(Tensor)", names);
        Assert.Contains("Tensor.op_Addition(Tensor,Tensor)", names); // through add(Tensor)
        Assert.Contains("Tensor.op_Multiply(Tensor,Double)", names);
        Assert.Contains("SGD.step(Func`1)", names);                // through its per-group lambda
        Assert.DoesNotContain("Tensor.add(Tensor,Scalar)", names);
        Assert.DoesNotContain("Tensor.sub(Tensor)", names);
    }

    [Fact]
    public void OurCodeMakesNoTemporaryScalars()
    {
        var risky = RiskyTorchSharpMethods();
        // KeptScalar and KeptScalarSgd make Scalars on purpose and dispose them after the call (or keep them in a static field).
        static bool Allowed(Type? t) => t is not null && (t == typeof(KeptScalar) || t == typeof(KeptScalarSgd) || Allowed(t.DeclaringType));
        var sites = new List<string>();
        foreach (var assembly in new[] { typeof(KeptScalar).Assembly, typeof(Asdt.Cli.AsdtCommandLine).Assembly })
            foreach (var m in Methods(assembly).Where(m => !Allowed(m.DeclaringType)))
                foreach (var callee in Callees(m))
                    if (MakesScalar(callee) || risky.Contains(callee) ||
                        callee.Name == "step" && callee.DeclaringType?.Assembly == typeof(Scalar).Assembly && m.DeclaringType != typeof(PolySgd))
                        sites.Add($"{m.DeclaringType!.FullName}.{m.Name} → {callee.DeclaringType!.Name}.{callee.Name}");
        // optimizer.step() on PolySgd.Optimizer reaches KeptScalarSgd.step by virtual dispatch; PolySgd checks the type.
        Assert.True(sites.Count == 0, "temporary Scalars (use KeptScalar):\n" + string.Join("\n", sites.Distinct()));
    }

    [Fact]
    public void KeptScalarSgdStepsExactlyLikeTorchSharpSgd()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var initial = new[] { randn(4, 3), randn(4), randn(2, 4) };
        var grads = Enumerable.Range(0, 4).Select(_ => initial.Select(p => randn(p.shape)).ToArray()).ToArray();
        float[][] Run(bool kept)
        {
            var ps = initial.Select(p => new TorchSharp.Modules.Parameter(p.clone())).ToArray();
            var groups = new List<TorchSharp.Modules.SGD.ParamGroup>
            {
                new([ps[0]], new TorchSharp.Modules.SGD.Options { LearningRate = 0.1, weight_decay = 5e-4, momentum = 0.9 }),
                new([ps[1], ps[2]], new TorchSharp.Modules.SGD.Options { LearningRate = 1.0, weight_decay = 0, momentum = 0.9 }),
            };
            optim.Optimizer sgd = kept ? new KeptScalarSgd(groups, 0.1, 0.9, 5e-4) : optim.SGD(groups, 0.1, 0.9, weight_decay: 5e-4);
            foreach (var step in grads)
            {
                for (int i = 0; i < ps.Length; i++) ps[i].grad = step[i].clone();
                sgd.step();
            }
            return ps.Select(p => p.detach().data<float>().ToArray()).ToArray();
        }
        var reference = Run(kept: false);
        var ours = Run(kept: true);
        for (int i = 0; i < reference.Length; i++) Assert.Equal(reference[i], ours[i]);
        Assert.NotEqual(initial[0].data<float>().ToArray(), ours[0]);
    }

    /// <summary>Checkpoints written by TorchSharp's SGD (every run before KeptScalarSgd) resume, and ours load into TorchSharp's SGD.</summary>
    [Fact]
    public void KeptScalarSgdState_IsInterchangeableWithTorchSharpSgd()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        (TorchSharp.Modules.Parameter, List<TorchSharp.Modules.SGD.ParamGroup>) Setup()
        {
            var p = new TorchSharp.Modules.Parameter(ones(5));
            return (p, [new([p], new TorchSharp.Modules.SGD.Options { LearningRate = 0.1, momentum = 0.9, weight_decay = 1e-3 })]);
        }
        var gradient = randn(5);
        var (p1, g1) = Setup();
        var torchSgd = optim.SGD(g1, 0.1, 0.9, weight_decay: 1e-3);
        p1.grad = gradient.clone(); torchSgd.step();
        using var torchState = new MemoryStream();
        using (var w = new BinaryWriter(torchState, System.Text.Encoding.UTF8, leaveOpen: true)) torchSgd.save_state_dict(w);

        // TorchSharp's state → ours: one more identical step gives identical parameters.
        var (p2, g2) = Setup();
        var kept = new KeptScalarSgd(g2, 0.1, 0.9, 1e-3);
        using (no_grad()) p2.copy_(p1);
        kept.LoadState(torchState.ToArray());
        p1.grad = gradient.clone(); torchSgd.step();
        p2.grad = gradient.clone(); kept.step();
        Assert.Equal(p1.detach().data<float>().ToArray(), p2.detach().data<float>().ToArray());

        // Ours → TorchSharp's SGD.
        var (p3, g3) = Setup();
        var torchAgain = optim.SGD(g3, 0.1, 0.9, weight_decay: 1e-3);
        using (no_grad()) p3.copy_(p2);
        using (var r = new BinaryReader(new MemoryStream(kept.SaveState()))) torchAgain.load_state_dict(r);
        p2.grad = gradient.clone(); kept.step();
        p3.grad = gradient.clone(); torchAgain.step();
        Assert.Equal(p2.detach().data<float>().ToArray(), p3.detach().data<float>().ToArray());

        var bad = new MemoryStream();
        using (var w = new BinaryWriter(bad, System.Text.Encoding.UTF8, leaveOpen: true)) w.Write("Adam");
        Assert.Throws<InvalidDataException>(() => kept.LoadState(bad.ToArray()));
    }

    [Fact]
    public void PolySgdUsesTheKeptScalarStep()
    {
        using var p = new TorchSharp.Modules.Parameter(zeros(2));
        var sgd = new PolySgd([p], [], [], 0.01, 10, 20, 5e-4, 0.9, iterations: 10, power: 0.9);
        Assert.IsType<KeptScalarSgd>(sgd.Optimizer);
    }
}
