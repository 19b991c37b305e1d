using Asdt.Training;

namespace Asdt.Tests.Training;

public class PulseWidthSignalTests
{
    [Fact]
    public void PaperSettingsGiveThirtyHighThenOneHundredTwentyLow()
    {
        var pw = new PulseWidthSignal(150, 5);
        Assert.Equal(30, pw.HighLength);
        Assert.Equal(120, pw.LowLength);
        for (int t = 0; t < 450; t++)
            Assert.Equal(t % 150 < 30 ? TeacherPhase.ClassTeacher : TeacherPhase.SegTeacher, pw.PhaseAt(t));
    }

    [Fact]
    public void AlternativeReadingIsMostlyClassTeacher()
    {
        var pw = new PulseWidthSignal(150, 5, PulseWidthReading.HighToLowRatio);
        Assert.Equal(125, pw.HighLength);
        Assert.Equal(25, pw.LowLength);
        Assert.Equal(5.0, (double)pw.HighLength / pw.LowLength, 6);
    }

    [Fact]
    public void TauOneMeansAlwaysClassTeacher()
    {
        var pw = new PulseWidthSignal(150, 1);
        Assert.Equal(pw.Period, pw.HighLength);
        Assert.Equal(0, pw.LowLength);
        Assert.All(Enumerable.Range(0, 1000), t => Assert.Equal(TeacherPhase.ClassTeacher, pw.PhaseAt(t)));
        Assert.Equal((1000L, 0L), pw.Count(1000));
    }

    [Fact]
    public void HighLengthEqualToPeriodAndHugeTau()
    {
        Assert.Equal(0, new PulseWidthSignal(7, 0.5).LowLength); // T/τ > T is clamped to T
        var almostAlwaysLow = new PulseWidthSignal(10, 1e9);
        Assert.Equal(1, almostAlwaysLow.HighLength);            // at least one class-teacher iteration per period
        Assert.Equal(TeacherPhase.ClassTeacher, almostAlwaysLow.PhaseAt(20));
        Assert.Equal(TeacherPhase.SegTeacher, almostAlwaysLow.PhaseAt(21));
    }

    [Fact]
    public void PartialLastPeriodIsCountedByBruteForce()
    {
        foreach (var (period, tau, iters) in new[] { (150, 5.0, 20001L), (150, 6.0, 20000L), (7, 2.0, 50L), (10, 3.0, 9L), (1, 1.0, 5L) })
        {
            var pw = new PulseWidthSignal(period, tau);
            long high = 0;
            for (long t = 0; t < iters; t++) if (pw.Level(t) == 1) high++;
            Assert.Equal((high, iters - high), pw.Count(iters));
        }
        // RRM runs t = 0..20000: 133 full periods + 51 iterations (30 high, 21 low).
        Assert.Equal((133L * 30 + 30, 133L * 120 + 21), new PulseWidthSignal(150, 5).Count(20001));
    }

    [Fact]
    public void InvalidArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PulseWidthSignal(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PulseWidthSignal(10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PulseWidthSignal(10, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PulseWidthSignal(10, 2).PhaseAt(-1));
    }
}
