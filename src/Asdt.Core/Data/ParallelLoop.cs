using System.Runtime.ExceptionServices;

namespace Asdt.Data;

/// <summary>Parallel loops that surface a user error as itself (not wrapped in an AggregateException), so callers and
/// the CLI see one clear <see cref="AsdtException"/>.</summary>
internal static class ParallelLoop
{
    public static void For(int from, int to, Action<int> body) => Unwrap(() => Parallel.For(from, to, body));

    public static void For<TLocal>(int from, int to, Func<TLocal> init, Func<int, ParallelLoopState, TLocal, TLocal> body, Action<TLocal> final) =>
        Unwrap(() => Parallel.For(from, to, init, body, final));

    static void Unwrap(Action loop)
    {
        try { loop(); }
        catch (AggregateException e)
        {
            var flat = e.Flatten().InnerExceptions;
            var first = flat.FirstOrDefault(x => x is AsdtException) ?? (flat.Count == 1 ? flat[0] : null);
            if (first != null) ExceptionDispatchInfo.Capture(first).Throw();
            throw;
        }
    }
}
