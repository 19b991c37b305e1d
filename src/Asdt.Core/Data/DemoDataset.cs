namespace Asdt.Data;

/// <summary>One rendered demo image with its ground truth; <see cref="PartMask"/> marks the discriminative parts.</summary>
public sealed record DemoSample(string Id, RgbImage Image, LabelMask Mask, bool[] PartMask, int[] ObjectClasses);

/// <summary>
/// The built-in demo dataset, generated deterministically in VOC layout. Weak supervision is a real problem in it:
/// each of the 5 object classes is a large body with a texture <b>shared by all classes</b> (and also scattered over the
/// background as headless "decoy" bodies) plus one small, class-specific part (a distinct colour and pattern, about a
/// tenth of the object). Image-level labels can be predicted from the parts alone, so a classifier's CAM tends to
/// light up the part and miss the body, which is exactly what the ASDT teachers must fix. Backgrounds are cluttered
/// (two-octave value noise, random blobs and dots); images hold one to three objects, often of different classes,
/// which may overlap; masks carry a one-pixel 255 band on object outlines, like VOC.
/// Layout: JPEGImages/&lt;id&gt;.png (lossless), SegmentationClass/&lt;id&gt;.png (palette), ImageSets/Segmentation/
/// train.txt and val.txt (every fifth image is val), classes.txt, dataset.json (a descriptor).
/// Same (count, seed) → bit-identical files.
/// </summary>
public static class DemoDataset
{
    public static IReadOnlyList<string> ClassNames { get; } = ["background", "beetle", "fish", "bird", "snail", "rocket"];

    public const int DefaultCount = 200, DefaultSeed = 1;

    /// <summary>Writes the dataset under <paramref name="root"/> (created if needed; existing demo files are replaced).</summary>
    public static void Generate(string root, int count = DefaultCount, int seed = DefaultSeed)
    {
        if (count < 2) throw new AsdtException(root, $"the demo dataset needs at least 2 images (asked for {count})");
        root = Path.GetFullPath(root);
        var ids = Enumerable.Range(0, count).Select(IdOf).ToArray();
        ParallelLoop.For(0, count, i =>
        {
            var s = Render(i, seed);
            ImageFile.WritePng(Path.Combine(root, "JPEGImages", s.Id + ".png"), s.Image);
            PalettePng.Write(Path.Combine(root, "SegmentationClass", s.Id + ".png"), s.Mask);
        });
        string sets = Path.Combine(root, "ImageSets", "Segmentation");
        IO.AtomicFile.WriteAllText(Path.Combine(sets, "train.txt"), string.Join("\n", ids.Where((_, i) => !IsVal(i))) + "\n");
        IO.AtomicFile.WriteAllText(Path.Combine(sets, "val.txt"), string.Join("\n", ids.Where((_, i) => IsVal(i))) + "\n");
        IO.AtomicFile.WriteAllText(Path.Combine(root, "classes.txt"), string.Join("\n", ClassNames) + "\n");
        (BuiltinDatasets.Get("demo") with { Root = "." }).Save(Path.Combine(root, "dataset.json"));
    }

    public static string IdOf(int index) => $"demo_{index:D4}";

    static bool IsVal(int index) => index % 5 == 4;

    // ------------------------------------------------------------------ rendering
    static readonly (byte R, byte G, byte B)[] BackgroundColors =
    [
        (86, 110, 60), (120, 140, 80), (150, 130, 95), (95, 95, 105), (170, 160, 140), (60, 80, 70), (130, 100, 80), (110, 125, 140),
    ];

    /// <summary>Renders image <paramref name="index"/> of the dataset with <paramref name="seed"/> (pure function).</summary>
    public static DemoSample Render(int index, int seed)
    {
        var rng = new Random(TrainingSampler.SeedFor(seed, index, 0xDE70));
        int[] sides = [96, 112, 128];
        int w = sides[rng.Next(3)], h = sides[rng.Next(3)];
        var px = new float[w * h * 3];
        var labels = new byte[w * h];
        var part = new bool[w * h];
        int noiseSeed = rng.Next();

        // Background: two colours blended by two-octave value noise.
        var c0 = BackgroundColors[rng.Next(BackgroundColors.Length)];
        var c1 = BackgroundColors[rng.Next(BackgroundColors.Length)];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float n = 0.65f * ValueNoise(x / 24f, y / 24f, noiseSeed) + 0.35f * ValueNoise(x / 7f, y / 7f, noiseSeed + 1);
                int o = (y * w + x) * 3;
                px[o] = c0.R + (c1.R - c0.R) * n; px[o + 1] = c0.G + (c1.G - c0.G) * n; px[o + 2] = c0.B + (c1.B - c0.B) * n;
            }

        // Clutter: blobs in background colours, dots of random colours, and decoy bodies with the shared body texture.
        int blobs = 4 + rng.Next(5);
        for (int k = 0; k < blobs; k++)
        {
            var c = BackgroundColors[rng.Next(BackgroundColors.Length)];
            float cx = rng.Next(w), cy = rng.Next(h), rx = 4 + rng.Next(14), ry = 4 + rng.Next(14);
            bool rect = rng.Next(2) == 0;
            Fill(w, h, cx, cy, rx + ry, (x, y) =>
            {
                float dx = (x - cx) / rx, dy = (y - cy) / ry;
                return rect ? Math.Abs(dx) <= 1 && Math.Abs(dy) <= 1 : dx * dx + dy * dy <= 1;
            }, (x, y) => Paint(px, w, x, y, c.R, c.G, c.B));
        }
        int dots = 6 + rng.Next(10);
        for (int k = 0; k < dots; k++)
        {
            byte r = (byte)(60 + rng.Next(140)), g = (byte)(60 + rng.Next(140)), b = (byte)(60 + rng.Next(140));
            float cx = rng.Next(w), cy = rng.Next(h), rad = 1.5f + (float)rng.NextDouble() * 2f;
            Fill(w, h, cx, cy, rad, (x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad, (x, y) => Paint(px, w, x, y, r, g, b));
        }
        int decoys = 1 + rng.Next(3);
        for (int k = 0; k < decoys; k++)
        {
            var body = RandomBody(rng, w, h, 1 + rng.Next(5));
            Fill(w, h, body.Cx, body.Cy, body.A + 2, body.Contains, (x, y) => BodyTexture(px, w, x, y, body, noiseSeed));
        }

        // Objects: 1-3, later ones in front.
        double roll = rng.NextDouble();
        int objects = roll < 0.35 ? 1 : roll < 0.8 ? 2 : 3;
        var classes = new List<int>();
        for (int k = 0; k < objects; k++)
        {
            int cls = 1 + rng.Next(ClassNames.Count - 1);
            var body = RandomBody(rng, w, h, cls);
            float pr = body.B * (0.42f + 0.08f * (float)rng.NextDouble());
            float px0 = body.Cx + body.Ux * body.A * 0.92f, py0 = body.Cy + body.Uy * body.A * 0.92f;
            bool InPart(int x, int y) => (x - px0) * (x - px0) + (y - py0) * (y - py0) <= pr * pr;
            Fill(w, h, body.Cx, body.Cy, body.A + pr + 2, (x, y) => body.Contains(x, y) || InPart(x, y), (x, y) =>
            {
                int i = y * w + x;
                labels[i] = (byte)cls;
                if (InPart(x, y)) { part[i] = true; PartTexture(px, w, x, y, cls, px0, py0, pr, body); }
                else { part[i] = false; BodyTexture(px, w, x, y, body, noiseSeed); }
            });
            classes.Add(cls);
        }

        // Sensor noise, quantisation.
        var image = new RgbImage(w, h);
        for (int i = 0; i < px.Length; i++)
            image.Pixels[i] = (byte)Math.Clamp(MathF.Round(px[i] + (float)(rng.NextDouble() * 12 - 6)), 0f, 255f);

        // VOC-like ignore band: a pixel with a 4-neighbour of another label, one of them an object, becomes 255.
        var mask = new LabelMask(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                byte l = labels[i];
                bool edge = (x > 0 && Differs(l, labels[i - 1])) || (x < w - 1 && Differs(l, labels[i + 1]))
                         || (y > 0 && Differs(l, labels[i - w])) || (y < h - 1 && Differs(l, labels[i + w]));
                mask.Labels[i] = edge && l != 0 ? LabelMask.Ignore : l;
            }
        var present = Enumerable.Range(1, ClassNames.Count - 1).Where(c => mask.Labels.Contains((byte)c)).ToArray();
        return new DemoSample(IdOf(index), image, mask, part, present);
    }

    static bool Differs(byte a, byte b) => a != b && (a != 0 || b != 0);

    readonly record struct Body(float Cx, float Cy, float A, float B, float Ux, float Uy, int Shape)
    {
        /// <summary>Shape 1..5 per class: ellipse, long ellipse, near-circle, rounded box, diamond-ish (superellipse).</summary>
        public bool Contains(int x, int y)
        {
            float dx = x - Cx, dy = y - Cy;
            float u = (dx * Ux + dy * Uy) / A, v = (-dx * Uy + dy * Ux) / B;
            return Shape switch
            {
                4 => u * u * u * u + v * v * v * v <= 1,
                5 => MathF.Abs(u) + MathF.Abs(v) * 0.8f <= 1,
                _ => u * u + v * v <= 1,
            };
        }
    }

    static Body RandomBody(Random rng, int w, int h, int cls)
    {
        float size = Math.Min(w, h);
        float a = size * (0.2f + 0.1f * (float)rng.NextDouble());
        float aspect = cls switch { 2 => 0.45f, 3 => 0.85f, _ => 0.6f };
        float b = a * aspect * (0.9f + 0.2f * (float)rng.NextDouble());
        double ux = rng.NextDouble() * 2 - 1, uy = rng.NextDouble() * 2 - 1;
        double norm = Math.Sqrt(ux * ux + uy * uy);
        if (norm < 1e-3) { ux = 1; uy = 0; norm = 1; }
        float cx = a + (float)rng.NextDouble() * (w - 2 * a), cy = a + (float)rng.NextDouble() * (h - 2 * a);
        return new Body(cx, cy, a, b, (float)(ux / norm), (float)(uy / norm), cls);
    }

    /// <summary>Shared by every class: brownish grey with stripes across the long axis and noise.</summary>
    static void BodyTexture(float[] px, int w, int x, int y, Body body, int noiseSeed)
    {
        float along = (x - body.Cx) * body.Ux + (y - body.Cy) * body.Uy;
        float stripe = ((int)MathF.Floor(along / 3f) & 1) == 0 ? 1f : 0.82f;
        float n = 0.85f + 0.3f * ValueNoise(x / 4f, y / 4f, noiseSeed + 7);
        Paint(px, w, x, y, 128 * stripe * n, 112 * stripe * n, 96 * stripe * n);
    }

    /// <summary>The discriminative part, one look per class.</summary>
    static void PartTexture(float[] px, int w, int x, int y, int cls, float cx, float cy, float r, Body body)
    {
        float dx = x - cx, dy = y - cy;
        switch (cls)
        {
            case 1: // red with black spots
                bool spot = ((x / 3 + y / 3) % 3 == 0) && (x % 3 != 2) && (y % 3 != 2);
                if (spot) Paint(px, w, x, y, 20, 15, 15); else Paint(px, w, x, y, 225, 35, 30);
                break;
            case 2: // blue and white stripes across the body axis
                float t = dx * body.Uy - dy * body.Ux;
                if (((int)MathF.Floor(t / 2f) & 1) == 0) Paint(px, w, x, y, 30, 70, 220); else Paint(px, w, x, y, 235, 240, 250);
                break;
            case 3: // yellow with an orange rim
                if (dx * dx + dy * dy > 0.55f * r * r) Paint(px, w, x, y, 250, 140, 20); else Paint(px, w, x, y, 245, 225, 40);
                break;
            case 4: // green checkerboard
                if ((((x >> 1) + (y >> 1)) & 1) == 0) Paint(px, w, x, y, 40, 200, 60); else Paint(px, w, x, y, 10, 90, 30);
                break;
            default: // magenta ring around a white core
                if (dx * dx + dy * dy < 0.3f * r * r) Paint(px, w, x, y, 250, 250, 250); else Paint(px, w, x, y, 220, 40, 200);
                break;
        }
    }

    static void Paint(float[] px, int w, int x, int y, float r, float g, float b)
    {
        int o = (y * w + x) * 3;
        px[o] = r; px[o + 1] = g; px[o + 2] = b;
    }

    static void Fill(int w, int h, float cx, float cy, float radius, Func<int, int, bool> inside, Action<int, int> paint)
    {
        int x0 = Math.Max(0, (int)(cx - radius - 1)), x1 = Math.Min(w - 1, (int)(cx + radius + 1));
        int y0 = Math.Max(0, (int)(cy - radius - 1)), y1 = Math.Min(h - 1, (int)(cy + radius + 1));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (inside(x, y)) paint(x, y);
    }

    /// <summary>Smooth value noise in [0, 1): random lattice values, smoothstep-interpolated.</summary>
    static float ValueNoise(float x, float y, int seed)
    {
        int ix = (int)MathF.Floor(x), iy = (int)MathF.Floor(y);
        float fx = x - ix, fy = y - iy;
        fx = fx * fx * (3 - 2 * fx); fy = fy * fy * (3 - 2 * fy);
        float a = Lattice(ix, iy, seed), b = Lattice(ix + 1, iy, seed), c = Lattice(ix, iy + 1, seed), d = Lattice(ix + 1, iy + 1, seed);
        float top = a + (b - a) * fx, bottom = c + (d - c) * fx;
        return top + (bottom - top) * fy;
    }

    static float Lattice(int x, int y, int seed)
    {
        uint hsh = (uint)x * 0x8DA6B343u ^ (uint)y * 0xD8163841u ^ (uint)seed * 0xCB1AB31Fu;
        hsh ^= hsh >> 15; hsh *= 0x2C1B3C6Du; hsh ^= hsh >> 12; hsh *= 0x297A2D39u; hsh ^= hsh >> 15;
        return (hsh & 0xFFFFFF) / 16777216f;
    }
}
