using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Asdt.Crf;

/// <summary>
/// Permutohedral lattice (Adams, Baek &amp; Davis 2010) in Krähenbühl's variant (ALGORITHM.md §5.3):
/// approximate high-dimensional Gaussian filtering Σ_j exp(−½‖f_i − f_j‖²) v_j (self included) by
/// splatting onto the vertices of the enclosing simplices, blurring with [½ 1 ½] along the d+1 lattice
/// axes and slicing back with α = 1/(1+2^−d). Not normalised: the output for v ≡ 1 is about 0.6× the
/// exact Gaussian sum (§5.4); use symmetric or row normalisation when the scale matters.
/// <para>Build once from the features, filter many times with any number of value channels.</para>
/// <para>Thread safety: <see cref="Filter"/> uses buffers owned by the lattice and is serialised by a lock,
/// so concurrent calls on one instance are safe but do not overlap; different instances are independent.</para>
/// </summary>
public sealed class PermutohedralLattice
{
    readonly int _n, _d, _m;
    // Per point d+1 (vertex row, barycentric weight). Vertex rows start at 1; row 0 is a zero row that
    // stands for "no neighbour" in the blur.
    readonly int[] _rows;
    readonly float[] _weights;
    // Blur neighbours, axis-major: [(d+1)][m], rows (0 = missing).
    readonly int[] _n1, _n2;
    readonly float _alpha;
    readonly object _sync = new();

    // Reusable vertex buffers (allocated on first use, grown when a wider channel stride is asked for).
    int _stride;
    float[] _bufA = [], _bufB = [];
    float[][] _threadBufs = [];

    PermutohedralLattice(int n, int d, int m, int[] rows, float[] weights, int[] n1, int[] n2)
    {
        _n = n; _d = d; _m = m; _rows = rows; _weights = weights; _n1 = n1; _n2 = n2;
        _alpha = 1f / (1f + MathF.Pow(2f, -d));
    }

    public int PointCount => _n;
    public int Dimensions => _d;
    /// <summary>Number of lattice vertices (occupied simplex corners).</summary>
    public int VertexCount => _m;
    /// <summary>Slice scale α = 1/(1+2^−d).</summary>
    public float Alpha => _alpha;

    /// <summary>Approximate memory held by the lattice (bytes), buffers included.</summary>
    public long ApproximateBytes =>
        4L * (_rows.Length + _weights.Length + _n1.Length + _n2.Length + _bufA.Length + _bufB.Length)
        + 4L * _threadBufs.Sum(b => (long)b.Length);

    // ------------------------------------------------------------------------------------------
    // Build
    // ------------------------------------------------------------------------------------------

    /// <summary>Builds the lattice for <paramref name="n"/> points with <paramref name="d"/>-dimensional features,
    /// point-major <c>[n][d]</c>, already divided by the kernel's standard deviations.</summary>
    public static PermutohedralLattice Build(ReadOnlySpan<float> features, int n, int d, int threads = 1)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "need at least one point");
        if (d <= 0 || d > 16) throw new ArgumentOutOfRangeException(nameof(d), "dimensions must be 1..16");
        if (features.Length < (long)n * d) throw new ArgumentException($"features has {features.Length} values, need {n}x{d}", nameof(features));
        if ((long)n * (d + 1) > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), "too many points");
        for (int i = 0; i < n * d; i++)
            if (!float.IsFinite(features[i]) || Math.Abs(features[i]) > 1e6f)
                throw new ArgumentException($"feature {i} is {features[i]} (must be finite, |f| ≤ 1e6)", nameof(features));
        int d1 = d + 1;
        threads = Math.Max(1, threads);

        // Phase 1 (parallel over points): simplex of each point — its remainder-0 corner (first d coordinates),
        // the rank of each coordinate, and the barycentric weights.
        var weights = new float[n * d1];
        var rem = new int[n * d];
        var rank = new byte[n * d];
        int maxAbs = 0;
        unsafe
        {
            fixed (float* fp = features)
            {
                var fptr = (IntPtr)fp;
                ForRanges(n, threads, (lo, hi) =>
                {
                    int m = Locate((float*)fptr, d, lo, hi, weights, rem, rank);
                    int seen;
                    while ((seen = Volatile.Read(ref maxAbs)) < m && Interlocked.CompareExchange(ref maxAbs, m, seen) != seen) { }
                });
            }
        }

        // Phase 2 (sequential): hash the simplex corners. Keys pack into one ulong when the coordinates are small
        // enough (the usual case), else int arrays.
        int bits = 2;
        while ((1L << (bits - 1)) <= maxAbs + 2L * d1 + 2) bits++;
        int[] rows = new int[n * d1];
        int[] n1, n2;
        int m;
        if (bits * d <= 64)
        {
            var table = new PackedTable(d, bits, EstimateCapacity(n, d));
            Assign(new PackedAdapter(table), n, d, rem, rank, rows);
            m = table.Count;
            (n1, n2) = Neighbours(new PackedAdapter(table), m, d, threads);
        }
        else
        {
            var table = new VertexTable(d, EstimateCapacity(n, d));
            Assign(new IntAdapter(table), n, d, rem, rank, rows);
            m = table.Count;
            (n1, n2) = Neighbours(new IntAdapter(table), m, d, threads);
        }
        return new PermutohedralLattice(n, d, m, rows, weights, n1, n2);
    }

    /// <summary>Elevates points [lo, hi) onto the hyperplane, finds their simplex; returns max |coordinate|.</summary>
    // AggressiveOptimization on the hot loops: compiled fully optimised at their first call, so one image (`asdt crf`)
    // does not run the JIT's quick first code; 16–32 % faster first image, steady state within 3 % (docs/benchmarks.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int Locate(float* features, int d, int lo, int hi, float[] weights, int[] remOut, byte[] rankOut)
    {
        int d1 = d + 1;
        float* scale = stackalloc float[d];
        float invStd = MathF.Sqrt(2f / 3f) * d1;
        for (int k = 0; k < d; k++) scale[k] = invStd / MathF.Sqrt((k + 1f) * (k + 2f));
        float* elevated = stackalloc float[d1];
        float* resid = stackalloc float[d1];
        int* rem0 = stackalloc int[d1];
        int* rank = stackalloc int[d1];
        float* bary = stackalloc float[d1 + 1];
        float down = 1f / d1;
        int maxAbs = 0;
        fixed (float* wAll = weights)
        fixed (int* remAll = remOut)
        fixed (byte* rankAll = rankOut)
        {
            for (int i = lo; i < hi; i++)
            {
                float* f = features + (long)i * d;
                // Elevate onto the hyperplane Σ e = 0 (running-sum recurrence).
                float sum = 0;
                for (int j = d; j > 0; j--)
                {
                    float cf = f[j - 1] * scale[j - 1];
                    elevated[j] = sum - j * cf;
                    sum += cf;
                }
                elevated[0] = sum;
                // Nearest remainder-0 point.
                int s = 0;
                for (int j = 0; j <= d; j++)
                {
                    int r = (int)MathF.Round(elevated[j] * down);
                    rem0[j] = r * d1;
                    resid[j] = elevated[j] - rem0[j];
                    rank[j] = 0;
                    s += r;
                }
                // Rank the residuals (ties by index).
                for (int j = 0; j < d; j++)
                {
                    float dj = resid[j];
                    int rj = rank[j];
                    for (int k = j + 1; k <= d; k++)
                    {
                        int c = dj < resid[k] ? 1 : 0;   // branch-free: residual order is data-dependent
                        rj += c;
                        rank[k] += 1 - c;
                    }
                    rank[j] = rj;
                }
                // Back onto the plane, barycentric weights.
                for (int j = 0; j <= d1; j++) bary[j] = 0;
                for (int j = 0; j <= d; j++)
                {
                    int rk = rank[j] + s;
                    if (rk < 0) { rk += d1; rem0[j] += d1; }
                    else if (rk > d) { rk -= d1; rem0[j] -= d1; }
                    rank[j] = rk;
                    float v = (elevated[j] - rem0[j]) * down;
                    bary[d - rk] += v;
                    bary[d - rk + 1] -= v;
                }
                bary[0] += 1f + bary[d1];
                float* w = wAll + (long)i * d1;
                for (int r = 0; r <= d; r++) w[r] = bary[r];
                int* ro = remAll + (long)i * d;
                byte* ko = rankAll + (long)i * d;
                for (int j = 0; j < d; j++)
                {
                    ro[j] = rem0[j];
                    ko[j] = (byte)rank[j];
                    int a = rem0[j] < 0 ? -rem0[j] : rem0[j];
                    if (a > maxAbs) maxAbs = a;
                }
            }
        }
        return maxAbs;
    }

    interface ITable
    {
        int FindOrAdd(ReadOnlySpan<int> key);
        int Find(ReadOnlySpan<int> key);
        void GetKey(int vertex, Span<int> key);
    }

    /// <summary>Vertex rows of every point: vertex r of the simplex has coordinates rem_j + (r if rank_j ≤ d − r else r − (d+1)).
    /// A small direct-mapped cache of recent simplices (most points share theirs with a nearby point) saves the
    /// d+1 vertex lookups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Assign<T>(T table, int n, int d, int[] rem, byte[] rank, int[] rows) where T : struct, ITable
    {
        int d1 = d + 1;
        const int CacheBits = 12;
        var cachePoint = new int[1 << CacheBits];   // a point whose simplex hashed to this slot, −1 = none
        Array.Fill(cachePoint, -1);
        Span<int> key = stackalloc int[d];
        for (int i = 0; i < n; i++)
        {
            int o = i * d1, c = i * d;
            ReadOnlySpan<int> ri = rem.AsSpan(c, d);
            ReadOnlySpan<byte> ki = rank.AsSpan(c, d);
            uint h = 2166136261u;
            for (int j = 0; j < d; j++) h = (h ^ (uint)ri[j] ^ ((uint)ki[j] << 24)) * 16777619u;
            int slot = (int)(h >> (32 - CacheBits));
            int prev = cachePoint[slot];
            if (prev >= 0 && ri.SequenceEqual(rem.AsSpan(prev * d, d)) && ki.SequenceEqual(rank.AsSpan(prev * d, d)))
            {
                rows.AsSpan(prev * d1, d1).CopyTo(rows.AsSpan(o, d1));
                continue;
            }
            for (int r = 0; r <= d; r++)
            {
                for (int j = 0; j < d; j++) key[j] = ri[j] + (ki[j] <= d - r ? r : r - d1);
                rows[o + r] = table.FindOrAdd(key) + 1;
            }
            cachePoint[slot] = i;
        }
    }

    /// <summary>Blur neighbours of every vertex along each axis j: key ∓ 1 on all coordinates, ±d on coordinate j.</summary>
    static (int[] N1, int[] N2) Neighbours<T>(T table, int m, int d, int threads) where T : struct, ITable
    {
        var n1 = new int[(d + 1) * m];
        var n2 = new int[(d + 1) * m];
        ForRanges(m, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (lo, hi) =>
        {
            Span<int> k0 = stackalloc int[d];
            Span<int> a = stackalloc int[d];
            Span<int> b = stackalloc int[d];
            for (int v = lo; v < hi; v++)
            {
                table.GetKey(v, k0);
                for (int j = 0; j <= d; j++)
                {
                    for (int k = 0; k < d; k++) { a[k] = k0[k] - 1; b[k] = k0[k] + 1; }
                    if (j < d) { a[j] = k0[j] + d; b[j] = k0[j] - d; }
                    n1[j * m + v] = table.Find(a) + 1;
                    n2[j * m + v] = table.Find(b) + 1;
                }
            }
        });
        return (n1, n2);
    }

    static int EstimateCapacity(int n, int d) => Math.Clamp(n * (d + 1) / 32, 1024, 1 << 22);

    readonly struct PackedAdapter(PackedTable t) : ITable
    {
        public int FindOrAdd(ReadOnlySpan<int> key) => t.FindOrAdd(t.Pack(key));
        public int Find(ReadOnlySpan<int> key) => t.Find(t.Pack(key));
        public void GetKey(int vertex, Span<int> key) => t.Unpack(vertex, key);
    }

    readonly struct IntAdapter(VertexTable t) : ITable
    {
        public int FindOrAdd(ReadOnlySpan<int> key) => t.FindOrAdd(key);
        public int Find(ReadOnlySpan<int> key) => t.Find(key);
        public void GetKey(int vertex, Span<int> key) => t.Keys.AsSpan(vertex * key.Length, key.Length).CopyTo(key);
    }

    /// <summary>Open-addressing hash table of keys packed into one ulong (d fields of <c>bits</c> bits, biased).</summary>
    sealed class PackedTable
    {
        readonly int _d, _bits;
        readonly long _bias;
        ulong[] _slotKeys;
        int[] _slots;   // vertex index, −1 = empty
        int _shift;
        public ulong[] Keys;
        public int Count;

        public PackedTable(int d, int bits, int expected)
        {
            _d = d; _bits = bits; _bias = 1L << (bits - 1);
            Keys = new ulong[expected];
            Allocate((int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, expected * 2)));
        }

        [MemberNotNull(nameof(_slots), nameof(_slotKeys))]
        void Allocate(int cap)
        {
            _slots = new int[cap];
            _slotKeys = new ulong[cap];
            Array.Fill(_slots, -1);
            _shift = 64 - BitOperations.Log2((uint)cap);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong Pack(ReadOnlySpan<int> key)
        {
            ulong k = 0;
            for (int j = 0; j < key.Length; j++) k |= (ulong)(key[j] + _bias) << (j * _bits);
            return k;
        }

        public void Unpack(int vertex, Span<int> key)
        {
            ulong k = Keys[vertex], mask = (1UL << _bits) - 1;
            for (int j = 0; j < key.Length; j++) key[j] = (int)((long)((k >> (j * _bits)) & mask) - _bias);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        uint Slot(ulong key) => (uint)((key * 0x9E3779B97F4A7C15UL) >> _shift);

        public int Find(ulong key)
        {
            uint mask = (uint)_slots.Length - 1;
            for (uint i = Slot(key); ; i = (i + 1) & mask)
            {
                int v = _slots[i];
                if (v < 0) return -1;
                if (_slotKeys[i] == key) return v;
            }
        }

        public int FindOrAdd(ulong key)
        {
            uint mask = (uint)_slots.Length - 1;
            uint i = Slot(key);
            for (; ; i = (i + 1) & mask)
            {
                int v = _slots[i];
                if (v < 0) break;
                if (_slotKeys[i] == key) return v;
            }
            int idx = Count++;
            if (idx == Keys.Length) Array.Resize(ref Keys, Keys.Length * 2);
            Keys[idx] = key;
            _slots[i] = idx;
            _slotKeys[i] = key;
            if (Count * 2 > _slots.Length)
            {
                Allocate(_slots.Length * 2);
                uint m2 = (uint)_slots.Length - 1;
                for (int v = 0; v < Count; v++)
                {
                    uint j = Slot(Keys[v]);
                    while (_slots[j] >= 0) j = (j + 1) & m2;
                    _slots[j] = v;
                    _slotKeys[j] = Keys[v];
                }
            }
            return idx;
        }
    }
    /// <summary>Open-addressing hash table of integer keys (d ints each), stored contiguously.</summary>
    sealed class VertexTable
    {
        readonly int _d;
        int[] _slots;   // vertex index, −1 = empty
        int _mask;
        public int[] Keys;
        public int Count;

        public VertexTable(int d, int expected)
        {
            _d = d;
            int cap = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, expected * 2));
            _slots = new int[cap];
            Array.Fill(_slots, -1);
            _mask = cap - 1;
            Keys = new int[expected * d];
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static uint Hash(ReadOnlySpan<int> key)
        {
            uint h = 2166136261u;
            for (int k = 0; k < key.Length; k++) h = (h ^ (uint)key[k]) * 16777619u;
            h ^= h >> 15; h *= 0x2c1b3c6dU; h ^= h >> 12;
            return h;
        }

        public int Find(ReadOnlySpan<int> key)
        {
            int d = _d;
            for (uint i = Hash(key) & (uint)_mask; ; i = (i + 1) & (uint)_mask)
            {
                int v = _slots[i];
                if (v < 0) return -1;
                if (Keys.AsSpan(v * d, d).SequenceEqual(key)) return v;
            }
        }

        public int FindOrAdd(ReadOnlySpan<int> key)
        {
            int d = _d;
            uint i = Hash(key) & (uint)_mask;
            for (; ; i = (i + 1) & (uint)_mask)
            {
                int v = _slots[i];
                if (v < 0) break;
                if (Keys.AsSpan(v * d, d).SequenceEqual(key)) return v;
            }
            int idx = Count++;
            if ((long)Count * d > Keys.Length) Array.Resize(ref Keys, Math.Max(Keys.Length * 2, Count * d));
            key.CopyTo(Keys.AsSpan(idx * d, d));
            _slots[i] = idx;
            if (Count * 2 > _slots.Length) Grow();
            return idx;
        }

        void Grow()
        {
            int cap = _slots.Length * 2;
            _slots = new int[cap];
            Array.Fill(_slots, -1);
            _mask = cap - 1;
            for (int v = 0; v < Count; v++)
            {
                uint i = Hash(Keys.AsSpan(v * _d, _d)) & (uint)_mask;
                while (_slots[i] >= 0) i = (i + 1) & (uint)_mask;
                _slots[i] = v;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Filter
    // ------------------------------------------------------------------------------------------

    /// <summary>
    /// result_i ≈ Σ_j k(f_i, f_j) v_j (self included): splat, blur, slice with α. Values and result are
    /// point-major <c>[n][channels]</c>; result may not overlap values.
    /// </summary>
    public void Filter(ReadOnlySpan<float> values, Span<float> result, int channels, int threads = 1)
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels));
        if (values.Length < (long)_n * channels) throw new ArgumentException($"values has {values.Length} floats, need {_n}x{channels}", nameof(values));
        if (result.Length < (long)_n * channels) throw new ArgumentException($"result has {result.Length} floats, need {_n}x{channels}", nameof(result));
        lock (_sync)
        {
            int stride = StrideFor(channels);
            unsafe
            {
                fixed (float* v = values)
                fixed (float* r = result)
                {
                    var vp = (IntPtr)v; var rp = (IntPtr)r;
                    EnsureBuffers(stride, threads);
                    SplatCore(vp, channels, channels, default, threads);
                    float[] blurred = BlurCore(threads);
                    SliceCore(blurred, rp, channels, channels, _alpha, default, threads);
                }
            }
        }
    }

    /// <summary>Vertex-buffer channel stride used for a given channel count: 4 (one 128-bit vector) up to
    /// 4 channels, else a multiple of 8 (256-bit vectors).</summary>
    internal static int StrideFor(int channels) => channels <= 4 ? 4 : (channels + 7) & ~7;

    internal object Sync => _sync;

    /// <summary>Allocates (once) the vertex buffers for a channel stride and a thread count.</summary>
    internal void EnsureBuffers(int stride, int threads)
    {
        threads = Math.Max(1, threads);
        long need = (long)(_m + 1) * stride;
        if (need > Array.MaxLength) throw new InvalidOperationException("lattice too large for the channel count");
        if (_stride != stride || _bufA.Length < need)
        {
            _stride = stride;
            _bufA = new float[need];
            _bufB = new float[need];
            _threadBufs = [];
        }
        int extra = threads - 1;
        if (_threadBufs.Length < extra || (_threadBufs.Length > 0 && _threadBufs[0].Length < need))
        {
            var tb = new float[extra][];
            for (int t = 0; t < extra; t++) tb[t] = new float[need];
            _threadBufs = tb;
        }
    }

    /// <summary>Splat into buffer A (zeroed first): A[row] += w · scale_i · v_i. <paramref name="channels"/> ≤
    /// stride; values are read with <paramref name="valueStride"/> floats per point. pointScale may be empty (= 1).</summary>
    internal unsafe void SplatCore(IntPtr values, int valueStride, int channels, ReadOnlyMemory<float> pointScale, int threads)
    {
        int stride = _stride;
        int parts = Math.Clamp(threads, 1, Math.Max(1, _n / 4096));
        if (parts == 1)
        {
            Array.Clear(_bufA, 0, (_m + 1) * _stride);
            SplatRange(_bufA, values, valueStride, channels, pointScale.Span, 0, _n);
        }
        else SplatParallel(values, valueStride, channels, pointScale, parts);
    }

    void SplatParallel(IntPtr values, int valueStride, int channels, ReadOnlyMemory<float> pointScale, int parts)
    {
        int stride = _stride;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, t =>
        {
            float[] buf = t == 0 ? _bufA : _threadBufs[t - 1];
            Array.Clear(buf, 0, (_m + 1) * stride);
            long lo = (long)_n * t / parts, hi = (long)_n * (t + 1) / parts;
            SplatRange(buf, values, valueStride, channels, pointScale.Span, (int)lo, (int)hi);
        });
        // Reduce the partial buffers into A, parallel over vertices.
        ForRanges(_m + 1, parts, (lo, hi) =>
        {
            var a = _bufA.AsSpan(lo * stride, (hi - lo) * stride);
            for (int t = 1; t < parts; t++) Add(a, _threadBufs[t - 1].AsSpan(lo * stride, (hi - lo) * stride));
        });
    }

    static void Add(Span<float> a, ReadOnlySpan<float> b)
    {
        int i = 0;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        for (; i + 8 <= a.Length; i += 8)
            Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref ra, (nuint)i) + Vector256.LoadUnsafe(ref rb, (nuint)i), ref ra, (nuint)i);
        for (; i < a.Length; i++) a[i] += b[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void SplatRange(float[] bufArr, IntPtr valuesPtr, int valueStride, int channels, ReadOnlySpan<float> pointScale, int lo, int hi)
    {
        int d1 = _d + 1, stride = _stride;
        float* values = (float*)valuesPtr;
        fixed (float* buf = bufArr)
        fixed (int* rows = _rows)
        fixed (float* wts = _weights)
        fixed (float* ps = pointScale)
        {
            bool scaled = pointScale.Length > 0;
            if (stride == 4 && channels == 4)
            {
                for (int i = lo; i < hi; i++)
                {
                    var v = Vector128.Load(values + (long)i * valueStride);
                    if (scaled) v *= ps[i];
                    int* rr = rows + i * d1; float* ww = wts + i * d1;
                    for (int r = 0; r < d1; r++)
                    {
                        float* dst = buf + (long)rr[r] * 4;
                        Vector128.Store(Vector128.FusedMultiplyAdd(v, Vector128.Create(ww[r]), Vector128.Load(dst)), dst);
                    }
                }
                return;
            }
            int vecs = channels >> 3;      // full 256-bit vectors
            int tail = channels & 7;
            if (tail == 0 && vecs == 3)
            {
                for (int i = lo; i < hi; i++)
                {
                    float* src = values + (long)i * valueStride;
                    float s = scaled ? ps[i] : 1f;
                    var v0 = Vector256.Load(src) * s; var v1 = Vector256.Load(src + 8) * s; var v2 = Vector256.Load(src + 16) * s;
                    int* rr = rows + i * d1; float* ww = wts + i * d1;
                    for (int r = 0; r < d1; r++)
                    {
                        float* dst = buf + (long)rr[r] * 24;
                        var w = Vector256.Create(ww[r]);
                        Vector256.Store(Vector256.FusedMultiplyAdd(v0, w, Vector256.Load(dst)), dst);
                        Vector256.Store(Vector256.FusedMultiplyAdd(v1, w, Vector256.Load(dst + 8)), dst + 8);
                        Vector256.Store(Vector256.FusedMultiplyAdd(v2, w, Vector256.Load(dst + 16)), dst + 16);
                    }
                }
                return;
            }
            for (int i = lo; i < hi; i++)
            {
                float* src = values + (long)i * valueStride;
                float s = scaled ? ps[i] : 1f;
                int* rr = rows + i * d1; float* ww = wts + i * d1;
                for (int r = 0; r < d1; r++)
                {
                    float* dst = buf + (long)rr[r] * stride;
                    float w = ww[r] * s;
                    var wv = Vector256.Create(w);
                    int k = 0;
                    for (int q = 0; q < vecs; q++, k += 8)
                        Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(src + k), wv, Vector256.Load(dst + k)), dst + k);
                    for (; k < channels; k++) dst[k] += w * src[k];
                }
            }
        }
    }

    /// <summary>Blurs buffer A along the d+1 axes (ping-pong with B); returns the buffer holding the result.</summary>
    internal float[] BlurCore(int threads)
    {
        float[] src = _bufA, dst = _bufB;
        for (int j = 0; j <= _d; j++)
        {
            if (threads > 1 && _m >= 2048) BlurParallel(src, dst, j, threads);
            else BlurRange(src, dst, j, 0, _m);
            (src, dst) = (dst, src);
        }
        return src;
    }

    void BlurParallel(float[] src, float[] dst, int axis, int threads) =>
        ForRanges(_m, threads, (lo, hi) => BlurRange(src, dst, axis, lo, hi));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void BlurRange(float[] srcArr, float[] dstArr, int axis, int lo, int hi)
    {
        int stride = _stride, m = _m;
        var half = Vector256.Create(0.5f);
        fixed (float* src = srcArr)
        fixed (float* dst = dstArr)
        fixed (int* n1p = _n1)
        fixed (int* n2p = _n2)
        {
            int* a1 = n1p + (long)axis * m, a2 = n2p + (long)axis * m;
            if (stride == 4)
            {
                var h = Vector128.Create(0.5f);
                for (int v = lo; v < hi; v++)
                {
                    float* o = src + (long)(v + 1) * 4;
                    var x = Vector128.Load(src + (long)a1[v] * 4) + Vector128.Load(src + (long)a2[v] * 4);
                    Vector128.Store(Vector128.FusedMultiplyAdd(x, h, Vector128.Load(o)), dst + (long)(v + 1) * 4);
                }
                return;
            }
            for (int v = lo; v < hi; v++)
            {
                float* o = src + (long)(v + 1) * stride;
                float* p1 = src + (long)a1[v] * stride;
                float* p2 = src + (long)a2[v] * stride;
                float* t = dst + (long)(v + 1) * stride;
                for (int k = 0; k < stride; k += 8)
                {
                    var x = Vector256.Load(p1 + k) + Vector256.Load(p2 + k);
                    Vector256.Store(Vector256.FusedMultiplyAdd(x, half, Vector256.Load(o + k)), t + k);
                }
            }
        }
    }

    /// <summary>Slice: out_i = scale · pointScale_i · Σ_r w_r · buf[row_r] (overwrites the first
    /// <paramref name="channels"/> floats of each output row).</summary>
    internal unsafe void SliceCore(float[] bufArr, IntPtr outPtr, int outStride, int channels, float scale, ReadOnlyMemory<float> pointScale, int threads)
    {
        int parts = Math.Clamp(threads, 1, Math.Max(1, _n / 4096));
        if (parts == 1) SliceRange(bufArr, outPtr, outStride, channels, scale, pointScale.Span, 0, _n);
        else SliceParallel(bufArr, outPtr, outStride, channels, scale, pointScale, parts);
    }

    void SliceParallel(float[] bufArr, IntPtr outPtr, int outStride, int channels, float scale, ReadOnlyMemory<float> pointScale, int parts) =>
        ForRanges(_n, parts, (lo, hi) => SliceRange(bufArr, outPtr, outStride, channels, scale, pointScale.Span, lo, hi));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void SliceRange(float[] bufArr, IntPtr outPtr, int outStride, int channels, float scale, ReadOnlySpan<float> pointScale, int lo, int hi)
    {
        int d1 = _d + 1, stride = _stride;
        float* output = (float*)outPtr;
        bool scaled = pointScale.Length > 0;
        fixed (float* buf = bufArr)
        fixed (int* rows = _rows)
        fixed (float* wts = _weights)
        fixed (float* ps = pointScale)
        {
            int vecs = stride == 4 ? 0 : channels >> 3;
            for (int i = lo; i < hi; i++)
            {
                float s = scaled ? scale * ps[i] : scale;
                int* rr = rows + i * d1; float* ww = wts + i * d1;
                float* dst = output + (long)i * outStride;
                if (stride == 4 && channels == 4)
                {
                    var acc = Vector128<float>.Zero;
                    for (int r = 0; r < d1; r++) acc = Vector128.FusedMultiplyAdd(Vector128.Load(buf + (long)rr[r] * 4), Vector128.Create(ww[r]), acc);
                    Vector128.Store(acc * s, dst);
                    continue;
                }
                int k = 0;
                for (int q = 0; q < vecs; q++, k += 8)
                {
                    var acc = Vector256<float>.Zero;
                    for (int r = 0; r < d1; r++) acc = Vector256.FusedMultiplyAdd(Vector256.Load(buf + (long)rr[r] * stride + k), Vector256.Create(ww[r]), acc);
                    Vector256.Store(acc * s, dst + k);
                }
                for (; k < channels; k++)
                {
                    float acc = 0;
                    for (int r = 0; r < d1; r++) acc += buf[(long)rr[r] * stride + k] * ww[r];
                    dst[k] = acc * s;
                }
            }
        }
    }

    // Internal accessors for fused loops (DenseCrf).
    internal int Stride => _stride;
    internal int[] Rows => _rows;
    internal float[] Weights => _weights;

    /// <summary>Runs body(lo, hi) over [0, count) split into at most <paramref name="threads"/> contiguous ranges.</summary>
    internal static void ForRanges(int count, int threads, Action<int, int> body)
    {
        int parts = Math.Clamp(threads, 1, Math.Max(1, count / 1024));
        if (parts == 1) { body(0, count); return; }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, t =>
            body((int)((long)count * t / parts), (int)((long)count * (t + 1) / parts)));
    }

    /// <summary>As <see cref="ForRanges"/> with at least <paramref name="grain"/> items per range, and the range's
    /// index (0 ≤ part &lt; threads) passed to body(part, lo, hi) so that it can use per-thread scratch buffers.</summary>
    internal static void ForRanges(int count, int threads, int grain, Action<int, int, int> body)
    {
        int parts = Math.Clamp(threads, 1, Math.Max(1, count / Math.Max(1, grain)));
        if (parts == 1) { body(0, 0, count); return; }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, t =>
            body(t, (int)((long)count * t / parts), (int)((long)count * (t + 1) / parts)));
    }
}
