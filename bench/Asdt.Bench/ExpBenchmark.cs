using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Asdt.Crf;

namespace Asdt.Bench;

/// <summary>
/// The mean-field softmax's exp: our <see cref="FastMath.Exp(Vector256{float})"/> (and its 4-lane form, which runs the
/// 8-lane polynomial on half a register) against .NET's own <c>Vector256.Exp</c> / <c>Vector128.Exp</c> and scalar
/// <see cref="MathF.Exp"/>: nanoseconds per value over an L1-resident buffer of the inputs the softmax sees
/// (m − max m, in [−30, 0]), and the largest relative error against <see cref="Math.Exp(double)"/> on [−87, 0].
/// </summary>
static class ExpBenchmark
{
    const int N = 4096;

    // .NET's Vector256.Exp is a call into CoreLib, whose precompiled code is replaced by the JIT's only after a delay:
    // warm up for seconds, not for a count of calls, so every variant runs its final code when measured.
    static readonly TimeSpan Warmup = TimeSpan.FromSeconds(3);

    interface IVectorExp
    {
        static abstract Vector256<float> Exp(Vector256<float> x);
        static abstract Vector128<float> Exp(Vector128<float> x);
    }

    readonly struct Ours : IVectorExp
    {
        public static Vector256<float> Exp(Vector256<float> x) => FastMath.Exp(x);
        public static Vector128<float> Exp(Vector128<float> x) => FastMath.Exp(x);
    }

    readonly struct DotNet : IVectorExp
    {
        public static Vector256<float> Exp(Vector256<float> x) => Vector256.Exp(x);
        public static Vector128<float> Exp(Vector128<float> x) => Vector128.Exp(x);
    }

    // Specialised per struct (so the exp inlines as in the CRF) and fully optimised from the first call (no tiering).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Lanes8<T>(float[] a, float[] b) where T : struct, IVectorExp
    {
        fixed (float* pa = a, pb = b)
            for (int i = 0; i < N; i += 8) Vector256.Store(T.Exp(Vector256.Load(pa + i)), pb + i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Lanes4<T>(float[] a, float[] b) where T : struct, IVectorExp
    {
        fixed (float* pa = a, pb = b)
            for (int i = 0; i < N; i += 4) Vector128.Store(T.Exp(Vector128.Load(pa + i)), pb + i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scalar(float[] a, float[] b)
    {
        for (int i = 0; i < N; i++) b[i] = MathF.Exp(a[i]);
    }

    public static int Run(string[] args)
    {
        int repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        Console.WriteLine("## exp for the mean-field softmax");
        Console.WriteLine();
        Console.WriteLine(BenchMachine.Describe());
        Console.WriteLine();
        var x = new float[N];
        var y = new float[N];
        var rnd = new Random(1);
        for (int i = 0; i < N; i++) x[i] = -30f * rnd.NextSingle();
        var variants = new (string Name, Action<float[], float[]> Apply)[]
        {
            ("FastMath.Exp, 8 lanes (ours)", Lanes8<Ours>),
            ("Vector256.Exp (.NET)", Lanes8<DotNet>),
            ("FastMath.Exp, 4 lanes (ours)", Lanes4<Ours>),
            ("Vector128.Exp (.NET)", Lanes4<DotNet>),
            ("MathF.Exp, scalar", Scalar),
        };
        var grid = new float[1 << 20];
        for (int i = 0; i < grid.Length; i++) grid[i] = -87f * i / grid.Length;
        var grid2 = new float[grid.Length];
        Console.WriteLine($"{N} values per call, best of {repeats} calls after {Warmup.TotalSeconds:F0} s of warm-up calls, variants interleaved; error on 2^20 values evenly spaced in [−87, 0].");
        Console.WriteLine();
        Console.WriteLine("| exp | ns per value | max relative error |");
        Console.WriteLine("|---|---:|---:|");
        var best = new double[variants.Length];
        Array.Fill(best, double.MaxValue);
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < Warmup)
            foreach (var (_, apply) in variants) apply(x, y);
        for (int r = 0; r < repeats; r++)
            for (int v = 0; v < variants.Length; v++)
            {
                long t0 = Stopwatch.GetTimestamp();
                variants[v].Apply(x, y);
                best[v] = Math.Min(best[v], Stopwatch.GetElapsedTime(t0).TotalNanoseconds / N);
            }
        for (int v = 0; v < variants.Length; v++)
        {
            var inBlock = new float[N];
            var outBlock = new float[N];
            for (int i = 0; i < grid.Length; i += N)
            {
                grid.AsSpan(i, N).CopyTo(inBlock);
                variants[v].Apply(inBlock, outBlock);
                outBlock.CopyTo(grid2, i);
            }
            double worst = 0;
            for (int i = 0; i < grid.Length; i++)
            {
                double want = Math.Exp(grid[i]);
                if (want > 1.2e-38) worst = Math.Max(worst, Math.Abs(grid2[i] - want) / want);
            }
            Console.WriteLine($"| {variants[v].Name} | {best[v]:F3} | {worst:E2} |");
        }
        Console.WriteLine();
        Console.WriteLine(BenchMachine.LoadLine());
        return 0;
    }
}
