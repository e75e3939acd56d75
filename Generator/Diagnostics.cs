using Microsoft.CodeAnalysis;

namespace Unroll.Generator;

/// <summary>Every diagnostic the generator reports. Keep AnalyzerReleases.Unshipped.md in step.</summary>
internal static class Diagnostics
{
    private const string Declaration = "Unroll.Declaration";
    private const string Shape = "Unroll.Shape";
    private const string Onnx = "Unroll.Onnx";

    private static DiagnosticDescriptor Error(string id, string category, string title, string message) =>
        new(id, title, message, category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static DiagnosticDescriptor Warning(string id, string category, string title, string message) =>
        new(id, title, message, category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotPartial = Error("UNR0001", Declaration,
        "A network class must be partial",
        "Network class '{0}' must be declared partial so that Unroll can generate its members");

    public static readonly DiagnosticDescriptor MissingInput = Error("UNR0002", Declaration,
        "A network needs an input shape",
        "Network '{0}' has no input shape: set [Network(Input = \"C x H x W\")], for example Input = \"1x32x32\"");

    public static readonly DiagnosticDescriptor InvalidInput = Error("UNR0003", Declaration,
        "The input shape is not C x H x W with positive sizes",
        "Network '{0}' input shape '{1}' is not C x H x W with three positive whole numbers, for example \"3x224x224\"");

    public static readonly DiagnosticDescriptor NonPositiveCount = Error("UNR0004", Shape,
        "Filter or unit count is not positive",
        "Layer '{0}': {1} must be at least 1, but is {2}");

    public static readonly DiagnosticDescriptor NonPositiveKernel = Error("UNR0005", Shape,
        "Kernel or window size is not positive",
        "Layer '{0}': {1} must be at least 1, but is {2}");

    public static readonly DiagnosticDescriptor NonPositiveStride = Error("UNR0006", Shape,
        "Stride is not positive",
        "Layer '{0}': stride must be at least 1, but is {1}");

    public static readonly DiagnosticDescriptor NegativePadding = Error("UNR0007", Shape,
        "Padding is negative",
        "Layer '{0}': padding must be 0 or more, but is {1}");

    public static readonly DiagnosticDescriptor KernelTooLarge = Error("UNR0008", Shape,
        "Kernel larger than the padded input",
        "Layer '{0}': the {1} window does not fit its input {2} padded to {3}x{4}");

    public static readonly DiagnosticDescriptor DuplicateName = Error("UNR0009", Declaration,
        "Two layers have the same name",
        "Layer name '{0}' is already used by member '{1}'; layer names must be unique within network '{2}'");

    public static readonly DiagnosticDescriptor BadLayerMember = Error("UNR0010", Declaration,
        "A layer member must be a partial Layer property with a get accessor only",
        "Member '{0}' carries a layer attribute but is not declared as 'partial Layer {0} {{ get; }}' ({1})");

    public static readonly DiagnosticDescriptor ConflictingAttributes = Error("UNR0011", Declaration,
        "A member carries more than one operation or activation",
        "Member '{0}' carries both {1} and {2}; declare one operation and at most one activation per layer");

    public static readonly DiagnosticDescriptor NoLayers = Error("UNR0012", Declaration,
        "A network has no layers",
        "Network '{0}' declares no layers: add properties such as [Conv(6, Kernel = 5)] partial Layer C1 {{ get; }}");

    public static readonly DiagnosticDescriptor SoftmaxNeedsFlat = Error("UNR0013", Shape,
        "Softmax needs a flat input",
        "Layer '{0}': softmax needs a flat input (a dense layer's output), but its input is {1}");

    public static readonly DiagnosticDescriptor ConflictingPadding = Error("UNR0014", Declaration,
        "Padding mode and explicit padding both given",
        "Layer '{0}': Padding = Same and Pad = {1} both set the padding; keep one");

    public static readonly DiagnosticDescriptor PoolPaddingTooLarge = Error("UNR0015", Shape,
        "Pooling padding larger than half the window",
        "Layer '{0}': padding {1} is more than half the {2}x{2} window, so some windows would see only padding");

    public static readonly DiagnosticDescriptor BadNetworkClass = Error("UNR0016", Declaration,
        "A network class cannot be nested, generic or derive from another class",
        "Network class '{0}' {1}; declare it as a top-level, non-generic partial class without a base class");

    public static readonly DiagnosticDescriptor TooLarge = Error("UNR0017", Shape,
        "Network too large",
        "Layer '{0}': {1} exceeds the supported size (2^31 - 1 floats)");

    public static readonly DiagnosticDescriptor UnknownInput = Error("UNR0018", Declaration,
        "A layer reads from a layer that does not exist",
        "Layer '{0}' reads from '{1}', but the network has no layer of that name (layers declared before it: {2})");

    public static readonly DiagnosticDescriptor InputCycle = Error("UNR0019", Declaration,
        "Layers read from each other in a cycle",
        "Layer '{0}' reads from '{1}', which makes a cycle: {2}");

    public static readonly DiagnosticDescriptor InputDeclaredLater = Error("UNR0020", Declaration,
        "A layer reads from a layer declared after it",
        "Layer '{0}' reads from '{1}', which is declared after it; layers run in declaration order, so declare '{1}' first");

    public static readonly DiagnosticDescriptor MergeShapeMismatch = Error("UNR0021", Shape,
        "The inputs of a merge do not fit together",
        "Layer '{0}': {1} needs {2}, but '{3}' is {4} and '{5}' is {6}");

    public static readonly DiagnosticDescriptor MergeNeedsInputs = Error("UNR0022", Declaration,
        "A merge names no input",
        "Layer '{0}': {1} needs at least one layer name (with one name, the layer declared before it is the other input)");

    public static readonly DiagnosticDescriptor UnusedLayer = Warning("UNR0023", Declaration,
        "A layer's output is never used",
        "Layer '{0}' is computed but its output reaches neither another layer nor an output of the network ({1})");

    public static readonly DiagnosticDescriptor ArgumentOutOfRange = Error("UNR0024", Shape,
        "A layer argument is out of range",
        "Layer '{0}': {1} must be {2}, but is {3}");

    public static readonly DiagnosticDescriptor NeedsSpatialInput = Error("UNR0025", Shape,
        "A layer needs a spatial input",
        "Layer '{0}': {1} needs a spatial input (C x H x W), but its input is the flat vector {2}");

    public static readonly DiagnosticDescriptor DropoutActivation = Error("UNR0026", Declaration,
        "Dropout takes no activation",
        "Layer '{0}': Dropout takes no activation; put [{1}] on the layer before it, or on a member of its own");

    public static readonly DiagnosticDescriptor EmptyBlock = Error("UNR0027", Declaration,
        "A block template declares no layers",
        "Block '{0}': template '{1}' declares no layers; a template is a class of this project whose Layer properties carry layer attributes");

    public static readonly DiagnosticDescriptor NoMainOutput = Error("UNR0028", Declaration,
        "A network has only auxiliary outputs",
        "Network '{0}' has auxiliary outputs only; mark the output inference computes with [Output] (without Auxiliary)");

    public static readonly DiagnosticDescriptor OnnxFileNotFound = Error("UNR0029", Onnx,
        "The ONNX model is not among the AdditionalFiles",
        "Network '{0}': no AdditionalFiles item of the project ends with '{1}'; add the model as <AdditionalFiles Include=\"{1}\" />");

    public static readonly DiagnosticDescriptor OnnxFileAmbiguous = Error("UNR0030", Onnx,
        "Several AdditionalFiles match the ONNX model's path",
        "Network '{0}': '{1}' matches several AdditionalFiles items ({2}); give more of the path");

    public static readonly DiagnosticDescriptor OnnxFileDamaged = Error("UNR0031", Onnx,
        "The ONNX model cannot be read",
        "Network '{0}': '{1}' cannot be read as an ONNX model: {2}");

    public static readonly DiagnosticDescriptor OnnxNodeUnsupported = Error("UNR0032", Onnx,
        "An ONNX node cannot be compiled",
        "Network '{0}': ONNX node '{1}' ({2}) {3}");

    public static readonly DiagnosticDescriptor OnnxGraphUnsupported = Error("UNR0033", Onnx,
        "An ONNX graph cannot be compiled",
        "Network '{0}': the graph of '{1}' {2}");

    public static readonly DiagnosticDescriptor InternalError = Error("UNR9999", "Unroll.Generator",
        "Internal generator error",
        "Unroll could not generate network '{0}': {1}. Please report this with the declaration.");
}
