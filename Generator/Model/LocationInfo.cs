using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Unroll.Generator.Model;

/// <summary>A source location reduced to plain values, so it can flow through the cached pipeline.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());

    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null
            ? null
            : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

/// <summary>A diagnostic waiting to be reported: descriptor, location and message arguments, all equatable.</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] arguments)
    {
        var texts = new string[arguments.Length];
        for (int i = 0; i < arguments.Length; i++)
            texts[i] = System.Convert.ToString(arguments[i], System.Globalization.CultureInfo.InvariantCulture) ?? "";
        return new DiagnosticInfo(descriptor, location, new EquatableArray<string>(texts));
    }

    /// <summary>The diagnostic, located in <paramref name="compilation"/>'s syntax tree of the same path when there is one.</summary>
    public Diagnostic ToDiagnostic(Compilation? compilation = null)
    {
        Microsoft.CodeAnalysis.Location location = Microsoft.CodeAnalysis.Location.None;
        if (Location is { } at)
        {
            location = at.ToLocation();
            if (compilation is not null)
                foreach (SyntaxTree tree in compilation.SyntaxTrees)
                    if (tree.FilePath == at.FilePath && tree.Length >= at.Span.End)
                    {
                        location = Microsoft.CodeAnalysis.Location.Create(tree, at.Span);
                        break;
                    }
        }
        return Diagnostic.Create(Descriptor, location, System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Cast<object>(Arguments)));
    }
}
