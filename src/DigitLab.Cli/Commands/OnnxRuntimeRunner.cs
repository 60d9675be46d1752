// OnnxRuntimeRunner: an exported ONNX model run by Microsoft's ONNX Runtime (CPU), for `bench infer` and the export tests.
using Microsoft.ML.OnnxRuntime;
using DigitLab.Interop;

namespace DigitLab.Cli.Commands;

/// <summary>
/// One ONNX Runtime session over an exported model: input <see cref="OnnxExport.InputName"/> (N, 1, 28, 28) pixels in [0, 1],
/// output <see cref="OnnxExport.ProbabilitiesName"/> or <see cref="OnnxExport.LogitsName"/> (N, classes).
/// </summary>
/// <remarks>
/// Threads: <c>intraOpThreads</c> for the work inside an operator, one inter-op thread and sequential execution, so that
/// "2 threads" means the same two cores the engine's 2 threads use. Full graph optimisation (ONNX Runtime's default).
/// </remarks>
internal sealed class OnnxRuntimeRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();

    /// <exception cref="OnnxRuntimeException">ONNX Runtime refuses the model (invalid graph, unknown operator).</exception>
    public OnnxRuntimeRunner(byte[] model, int intraOpThreads)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(model, options);
    }

    /// <summary>Names the model declares as inputs and outputs, in order.</summary>
    public IReadOnlyList<string> InputNames => _session.InputNames;
    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    /// <summary>metadata_props as ONNX Runtime reads them.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _session.ModelMetadata.CustomMetadataMap;

    /// <summary>
    /// Runs <paramref name="count"/> images (<paramref name="pixels"/>: count·784 values in [0, 1]) and copies output
    /// <paramref name="output"/> into <paramref name="destination"/> (count·classes values).
    /// </summary>
    public void Run(float[] pixels, int count, string output, Span<float> destination)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [count, 1, 28, 28]);
        using var results = _session.Run(_run, [OnnxExport.InputName], [input], [output]);
        var values = results[0].GetTensorDataAsSpan<float>();
        if (values.Length != destination.Length)
            throw new InvalidDataException($"ONNX Runtime returned {values.Length} values for '{output}', expected {destination.Length}.");
        values.CopyTo(destination);
    }

    public void Dispose()
    {
        _run.Dispose();
        _session.Dispose();
    }
}
