// Free-run a learnsim model exported to ONNX from C++ with ONNX Runtime: the step graph in a loop.
//   learnsim export MODEL --format onnx -o model.onnx
//   ./onnx_rollout model.onnx 200
// Models with derived outputs take and return one more tensor ("derived" / "next_derived"); this minimal
// program handles models without them (the Onyx example: velocity and position integrated from acceleration).
#include <onnxruntime_cxx_api.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s model.onnx [horizon]\n", argv[0]);
        return 2;
    }
    const int horizon = argc > 2 ? std::atoi(argv[2]) : 200;
    Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "learnsim");
    Ort::Session session(env, argv[1], Ort::SessionOptions{});
    Ort::AllocatorWithDefaultOptions allocator;
    auto meta = session.GetModelMetadata();
    auto L = std::stoi(meta.LookupCustomMetadataMapAllocated("learnsim.sequence_length", allocator).get());
    auto window_shape = session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
    auto external_shape = session.GetInputTypeInfo(session.GetInputCount() - 1).GetTensorTypeAndShapeInfo().GetShape();
    const int64_t n_inputs = window_shape[2], n_external = external_shape[1];
    if (session.GetInputCount() != 2) {
        std::fprintf(stderr, "this example handles models without derived outputs\n");
        return 2;
    }
    std::vector<float> window(L * n_inputs, 0.0f), external(n_external, 0.0f);
    std::array<int64_t, 3> wshape{1, L, n_inputs};
    std::array<int64_t, 2> eshape{1, n_external};
    const char* in_names[] = {"window", "external"};
    const char* out_names[] = {"outputs", "next_window"};
    auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    for (int k = 0; k < horizon; ++k) {
        for (int64_t i = 0; i < n_external; ++i) external[i] = std::sin(0.05f * k * (i + 1));
        std::array<Ort::Value, 2> inputs{
            Ort::Value::CreateTensor<float>(memory, window.data(), window.size(), wshape.data(), 3),
            Ort::Value::CreateTensor<float>(memory, external.data(), external.size(), eshape.data(), 2)};
        auto result = session.Run(Ort::RunOptions{nullptr}, in_names, inputs.data(), 2, out_names, 2);
        const float* next = result[1].GetTensorData<float>();
        window.assign(next, next + window.size());
        if (k == horizon - 1) {
            const float* y = result[0].GetTensorData<float>();
            auto n = result[0].GetTensorTypeAndShapeInfo().GetShape()[1];
            for (int64_t j = 0; j < n; ++j) std::printf("output %lld after %d steps: %g\n", (long long)j, horizon, y[j]);
        }
    }
    return 0;
}
