namespace Asdt.Training;

/// <summary>Which teacher the student distils from at an iteration.</summary>
public enum TeacherPhase
{
    /// <summary>High level of the PW wave: the student learns from the class-teacher's reliable label B^ct.</summary>
    ClassTeacher,
    /// <summary>Low level: the student learns from the seg-teacher's CRF-refined label B^st.</summary>
    SegTeacher,
}

/// <summary>How τ is turned into the length of the high level (ALGORITHM.md §6.4, ambiguity A2).</summary>
public enum PulseWidthReading
{
    /// <summary>The paper's definition τ = T / T_h, so T_h = T / τ (default; T = 150, τ = 5 → T_h = 30, T_l = 120).</summary>
    InverseDutyCycle,
    /// <summary>Alternative reading τ = T_h / T_l, so T_h = T·τ / (1 + τ) (T = 150, τ = 5 → T_h = 125, T_l = 25).</summary>
    HighToLowRatio,
}

/// <summary>
/// The pulse-width (PW) wave Λ_t that alternates the student's teacher (paper §3.3, ALGORITHM.md §6.4).
/// Period <c>T</c> iterations; each period starts with <see cref="HighLength"/> class-teacher iterations
/// (the seg-teacher is untrained at t = 0, assumption A22) followed by <see cref="LowLength"/>
/// seg-teacher iterations. τ (<see cref="Tau"/>) sets the proportion. Only the student's loss is switched.
/// </summary>
public sealed record PulseWidthSignal
{
    public int Period { get; }
    public double Tau { get; }
    public PulseWidthReading Reading { get; }
    /// <summary>T_h: iterations per period at the high (class-teacher) level, 1 ≤ T_h ≤ T.</summary>
    public int HighLength { get; }
    /// <summary>T_l = T − T_h: iterations per period at the low (seg-teacher) level.</summary>
    public int LowLength => Period - HighLength;

    public PulseWidthSignal(int period, double tau, PulseWidthReading reading = PulseWidthReading.InverseDutyCycle)
    {
        if (period < 1) throw new ArgumentOutOfRangeException(nameof(period), period, "the PW period T must be at least 1 iteration");
        if (!(tau > 0) || double.IsNaN(tau))
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "τ must be positive");
        Period = period;
        Tau = tau;
        Reading = reading;
        double high = reading switch
        {
            PulseWidthReading.InverseDutyCycle => period / tau,           // τ = T / T_h
            PulseWidthReading.HighToLowRatio => period * tau / (1 + tau), // τ = T_h / T_l
            _ => throw new ArgumentOutOfRangeException(nameof(reading)),
        };
        // Round to whole iterations; keep at least one class-teacher iteration per period so the
        // student never starts from the untrained seg-teacher.
        HighLength = (int)Math.Clamp(Math.Round(high, MidpointRounding.AwayFromZero), 1, period);
    }

    /// <summary>Phase at global 0-based iteration <paramref name="t"/>.</summary>
    public TeacherPhase PhaseAt(long t)
    {
        if (t < 0) throw new ArgumentOutOfRangeException(nameof(t));
        return t % Period < HighLength ? TeacherPhase.ClassTeacher : TeacherPhase.SegTeacher;
    }

    /// <summary>Λ_t as the paper plots it: 1 at the high level, 0 at the low level.</summary>
    public int Level(long t) => PhaseAt(t) == TeacherPhase.ClassTeacher ? 1 : 0;

    /// <summary>Number of iterations in [0, iterations) spent at each level (the last period may be partial).</summary>
    public (long High, long Low) Count(long iterations)
    {
        long full = iterations / Period, rest = iterations % Period;
        long high = full * HighLength + Math.Min(rest, HighLength);
        return (high, iterations - high);
    }

    public override string ToString() => $"PW wave T={Period}, τ={Tau} ({Reading}): T_h={HighLength}, T_l={LowLength}";
}
