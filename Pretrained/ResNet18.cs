namespace Unroll.Pretrained;

/// <summary>
/// The pretrained ResNet-18 of ML.NET's image featurizer (CNTK export, operator set 8), compiled at build time from its
/// ONNX file: 3 x 224 x 224 images in BGR order minus the mean image (see <see cref="ResNetPreprocess"/>) to the 512
/// features of the last average pooling. The file fixes the batch at 1; this class runs any batch.
/// Load the weights with <c>LoadOnnx(PretrainedModels.ResNet18Path)</c> or use <see cref="PretrainedModels.LoadResNet18"/>.
/// </summary>
[OnnxNetwork("ResNet18Onnx/ResNet18.onnx")]
public partial class ResNet18
{
}
