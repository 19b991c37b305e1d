namespace Asdt.Evaluation;

/// <summary>
/// <c>--shard i/n</c>: item k of a split belongs to shard k mod n, so n machines (a Slurm job array,
/// a Kubernetes indexed Job) split the work with no coordination, and the shards' outputs
/// (PSM files, confusion matrices) add up to exactly the unsharded result.
/// </summary>
public readonly record struct Shard(int Index, int Count)
{
    public static Shard All { get; } = new(0, 1);

    public static Shard Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return All;
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
            throw new AsdtException($"--shard must look like i/n with 0 ≤ i < n (got '{text}')");
        return new Shard(i, n);
    }

    public IReadOnlyList<T> Select<T>(IReadOnlyList<T> items)
    {
        if (Count == 1) return items;
        int index = Index, count = Count;
        return items.Where((_, k) => k % count == index).ToArray();
    }

    public override string ToString() => $"{Index}/{Count}";
}
