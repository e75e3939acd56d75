using Microsoft.CodeAnalysis.Text;

namespace Unroll.Tests.Infrastructure;

/// <summary>Source text with one span marked as [|...|]: the place a diagnostic must point at.</summary>
public sealed record MarkedSource(string Text, TextSpan Span)
{
    public static MarkedSource Parse(string marked)
    {
        int start = marked.IndexOf("[|", System.StringComparison.Ordinal);
        int end = marked.IndexOf("|]", System.StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "The test source needs one [|...|] marker.");
        string text = marked.Remove(end, 2).Remove(start, 2);
        return new MarkedSource(text, TextSpan.FromBounds(start, end - 2));
    }
}
