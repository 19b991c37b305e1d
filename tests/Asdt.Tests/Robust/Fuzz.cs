using System.Buffers.Binary;
using System.Diagnostics;

namespace Asdt.Tests.Robust;

/// <summary>
/// A small seeded mutation fuzzer for readers of outside data. Each mutated input must end in a result or in one
/// accepted exception (an <see cref="AsdtException"/> with a one-line message naming the input); anything else,
/// a hang (per-input timeout) or an allocation above <c>slack + factor × input length</c> fails the test and
/// saves the input under the temp folder for reproduction. Inputs run on one worker thread so that
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> measures exactly the reader's managed allocations.
/// </summary>
public sealed class Fuzz
{
    public required string Name { get; init; }
    public required IReadOnlyList<byte[]> Seeds { get; init; }
    public int Iterations { get; init; } = 500;
    public int Seed { get; init; } = 1;
    /// <summary>Allocation bound: <see cref="AllocSlack"/> + <see cref="AllocFactor"/> × input bytes.</summary>
    public long AllocSlack { get; init; } = 8L << 20;
    public double AllocFactor { get; init; } = 16;
    public TimeSpan PerInputTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Optional repair after mutation (e.g. recompute PNG chunk CRCs so mutations reach the decoder).</summary>
    public Func<byte[], Random, byte[]>? Fixup { get; init; }
    /// <summary>Runs the reader; what it returns is checked by <see cref="Check"/> (may be null).</summary>
    public required Func<byte[], object?> Read { get; init; }
    public Action<byte[], object?>? Check { get; init; }
    /// <summary>Exceptions other than AsdtException that count as "one clear error".</summary>
    public Func<Exception, bool>? AlsoAccept { get; init; }

    public sealed record Report(int Inputs, int Accepted, int Rejected, long MaxAllocation, Dictionary<string, int> Errors);

    public Report Run()
    {
        var rng = new Random(Seed);
        var inputs = new List<byte[]>(Seeds);
        for (int i = 0; i < Iterations; i++)
        {
            var seed = Seeds[rng.Next(Seeds.Count)];
            var m = Mutate(seed, rng, Seeds);
            inputs.Add(Fixup != null && rng.Next(4) != 0 ? Fixup(m, rng) : m);
        }

        int current = -1, accepted = 0, rejected = 0;
        long maxAlloc = 0, started = 0;
        Exception? failure = null;
        var errors = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        var worker = new Thread(() =>
        {
            for (int i = 0; i < inputs.Count && failure == null; i++)
            {
                Volatile.Write(ref started, clock.ElapsedMilliseconds);
                Volatile.Write(ref current, i);
                var input = inputs[i];
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var result = Read(input);
                    long used = GC.GetAllocatedBytesForCurrentThread() - before;
                    maxAlloc = Math.Max(maxAlloc, used);
                    CheckAllocation(used, input, i);
                    Check?.Invoke(input, result);
                    accepted++;
                }
                catch (Exception e) when (e is AsdtException || AlsoAccept?.Invoke(e) == true)
                {
                    long used = GC.GetAllocatedBytesForCurrentThread() - before;
                    maxAlloc = Math.Max(maxAlloc, used);
                    try
                    {
                        CheckAllocation(used, input, i);
                        if (e.Message.Contains('\n') || e.Message.Length == 0) throw Fail(input, i, $"error message is not one line: {e.Message}");
                        rejected++;
                        string key = e.GetType().Name + ": " + Shorten(e.Message);
                        errors[key] = errors.GetValueOrDefault(key) + 1;
                    }
                    catch (Exception f) { failure = f; }
                }
                catch (Exception e)
                {
                    failure = Fail(input, i, $"unexpected {e.GetType().FullName}: {e.Message}", e);
                }
            }
            Volatile.Write(ref current, inputs.Count);
        }, 64 << 20) { IsBackground = true, Name = "fuzz " + Name };
        worker.Start();
        while (!worker.Join(100))
        {
            int i = Volatile.Read(ref current);
            if (i >= 0 && i < inputs.Count && clock.ElapsedMilliseconds - Volatile.Read(ref started) > PerInputTimeout.TotalMilliseconds && Volatile.Read(ref current) == i)
                throw Fail(inputs[i], i, $"input {i} did not finish within {PerInputTimeout} (hang)");
        }
        if (failure != null) throw failure;
        return new Report(inputs.Count, accepted, rejected, maxAlloc, errors);
    }

    void CheckAllocation(long used, byte[] input, int index)
    {
        long bound = AllocSlack + (long)(AllocFactor * input.Length);
        if (used > bound) throw Fail(input, index, $"allocated {used} bytes for a {input.Length}-byte input (bound {bound})");
    }

    static string Shorten(string message)
    {
        // Group messages by their wording, not by the numbers and paths in them.
        var s = System.Text.RegularExpressions.Regex.Replace(message, @"\d+", "#");
        int colon = s.IndexOf(": ", StringComparison.Ordinal);
        if (colon >= 0) s = s[(colon + 2)..];
        return s.Length > 90 ? s[..90] : s;
    }

    Exception Fail(byte[] input, int index, string problem, Exception? inner = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "asdt-fuzz-failures");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, $"{Name}-seed{Seed}-{index}.bin");
        File.WriteAllBytes(file, input);
        return new Xunit.Sdk.XunitException($"fuzz {Name}: {problem} (input saved to {file})" + (inner != null ? "\n" + inner : ""));
    }

    // ---------------------------------------------------------------- mutations
    /// <summary>One to three mutations: bit flips, byte runs, truncation, length-field inflation, chunk splicing, deletion, duplication.</summary>
    public static byte[] Mutate(byte[] seed, Random rng, IReadOnlyList<byte[]> others)
    {
        var data = new List<byte>(seed);
        int rounds = 1 + rng.Next(3);
        for (int r = 0; r < rounds && data.Count > 0; r++)
        {
            int n = data.Count;
            switch (rng.Next(8))
            {
                case 0: // bit flips
                    for (int k = 1 + rng.Next(8); k > 0; k--) { int p = Pos(rng, n); data[p] ^= (byte)(1 << rng.Next(8)); }
                    break;
                case 1: // a run of one byte value (0x00, 0xFF or random)
                {
                    int p = Pos(rng, n), len = Math.Min(n - p, 1 + rng.Next(32));
                    byte v = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
                    for (int i = 0; i < len; i++) data[p + i] = v;
                    break;
                }
                case 2: // truncation
                {
                    int keep = rng.Next(n);
                    data.RemoveRange(keep, n - keep);
                }
                    break;
                case 3: // length-field inflation: a 2/4/8-byte integer made huge, tiny or negative
                {
                    int width = new[] { 2, 4, 8 }[rng.Next(3)];
                    if (n < width) break;
                    int p = rng.Next(4) == 0 ? rng.Next(n - width + 1) : rng.Next((n - width) / 4 + 1) * 4 % (n - width + 1);
                    ulong v = rng.Next(6) switch
                    {
                        0 => ulong.MaxValue, 1 => 0x7FFFFFFF, 2 => 0x80000000, 3 => 0,
                        4 => (ulong)rng.NextInt64(), _ => 0x10000000,
                    };
                    var bytes = new byte[8];
                    if (rng.Next(2) == 0) BinaryPrimitives.WriteUInt64LittleEndian(bytes, v); else BinaryPrimitives.WriteUInt64BigEndian(bytes, v);
                    int from = rng.Next(2) == 0 ? 0 : 8 - width;
                    for (int i = 0; i < width; i++) data[p + i] = bytes[from + i];
                    break;
                }
                case 4: // splice a chunk from another seed (or this one) over a position
                {
                    var other = others[rng.Next(others.Count)];
                    if (other.Length == 0) break;
                    int src = rng.Next(other.Length), len = Math.Min(other.Length - src, 1 + rng.Next(256)), dst = Pos(rng, n);
                    data.InsertRange(dst, other.Skip(src).Take(len));
                    if (rng.Next(2) == 0) data.RemoveRange(Math.Min(dst + len, data.Count - 1), Math.Min(len, data.Count - Math.Min(dst + len, data.Count - 1)));
                    break;
                }
                case 5: // delete a range
                {
                    int p = Pos(rng, n), len = Math.Min(n - p, 1 + rng.Next(64));
                    data.RemoveRange(p, len);
                    break;
                }
                case 6: // duplicate a range in place
                {
                    int p = Pos(rng, n), len = Math.Min(n - p, 1 + rng.Next(128));
                    data.InsertRange(p, data.GetRange(p, len));
                    break;
                }
                default: // random bytes
                    for (int k = 1 + rng.Next(4); k > 0; k--) data[Pos(rng, n)] = (byte)rng.Next(256);
                    break;
            }
        }
        return data.ToArray();
    }

    static int Pos(Random rng, int n) =>
        // Headers hold most of the structure: half the mutations land in the first 256 bytes.
        rng.Next(2) == 0 ? rng.Next(Math.Min(n, 256)) : rng.Next(n);
}
