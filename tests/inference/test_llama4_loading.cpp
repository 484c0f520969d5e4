// Loading Llama 4 checkpoints other than the tiny Llama4ForCausalLM folders:
//  - llama.cpp's `llama4` GGUF naming. No real Scout GGUF is available here, so the test writes
//    the tiny transformers models as GGUF files the way llama.cpp's converter lays them out
//    (experts split and stored [E][out][in], router as ffn_gate_inp, shared expert as *_shexp,
//    llama3 RoPE as rope_freqs divisors) and checks the logits against the safetensors load;
//  - a Llama4ForConditionalGeneration folder (nested config, language_model.* names, vision
//    tensors, two shards with an index), built from the tiny model.
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <fstream>
#include <numbers>

#include "inference/llama4_test_util.h"
#include "inference/test_gguf_builder.h"
#include "quire/inference/backend.h"
#include "quire/inference/llama4.h"
#include "quire/inference/log.h"
#include "quire/inference/quant.h"
#include "quire/inference/safetensors.h"

using namespace quire::inference;
using quire::test::GgufBuilder;

namespace {

constexpr std::uint32_t kF32 = 0, kQ8_0 = 8;

void kvF32(GgufBuilder& b, std::string_view key, float v)
{
    b.key(key, GgufBuilder::F32);
    GgufBuilder::putRaw(b.kvBytes(), &v, 4);
}

std::vector<float> floats(const SafeTensor& t)
{
    std::vector<float> out(std::size_t(t.elements()));
    std::memcpy(out.data(), t.data.data(), t.data.size());
    return out;
}

std::vector<std::uint8_t> bytesOf(const std::vector<float>& v)
{
    std::vector<std::uint8_t> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

// rows x cols f32 (row-major) as GGML `type` bytes.
std::vector<std::uint8_t> encode(const std::vector<float>& v, std::int64_t cols, std::uint32_t type)
{
    if (type == kF32)
        return bytesOf(v);
    const std::int64_t rows = std::int64_t(v.size()) / cols;
    std::vector<std::uint8_t> out(std::size_t(rows * cols / 32) * sizeof(BlockQ8_0));
    for (std::int64_t r = 0; r < rows; ++r)
        quantizeRowQ8_0(v.data() + r * cols, reinterpret_cast<BlockQ8_0*>(out.data()) + r * cols / 32, cols);
    return out;
}

// llama.cpp's converter: the llama3 scaling as one divisor per frequency.
std::vector<float> ropeFactors(const Llama4Config& c)
{
    std::vector<float> f;
    const RopeScaling& s = c.ropeScaling;
    for (int j = 0; j < c.headDim / 2; ++j) {
        const double freq = 1.0 / std::pow(double(c.ropeTheta), 2.0 * j / c.headDim);
        const double wavelen = 2 * std::numbers::pi / freq;
        const double low = s.originalContext / s.lowFreqFactor, high = s.originalContext / s.highFreqFactor;
        if (wavelen < high)
            f.push_back(1.0f);
        else if (wavelen > low)
            f.push_back(s.factor);
        else {
            const double smooth =
                (s.originalContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
            f.push_back(float(1.0 / ((1 - smooth) / s.factor + smooth)));
        }
    }
    return f;
}

// Writes the tiny model `name` as a llama4 GGUF; matrices of attention and experts in `type`.
std::filesystem::path writeGguf(const std::string& name, const std::filesystem::path& dir, std::uint32_t type)
{
    const auto src = quire::test::kLlama4Data / name;
    std::ifstream cfgIn(src / "config.json");
    const std::string cfgText((std::istreambuf_iterator<char>(cfgIn)), std::istreambuf_iterator<char>());
    const Llama4Config c = *parseLlama4Config(cfgText);
    auto st = SafetensorsFile::open(src / "model.safetensors");
    if (!st)
        qFatal("%s", st.error().message.c_str());
    auto t = [&](const std::string& n) -> const SafeTensor& {
        const SafeTensor* p = st->tensor(n);
        if (!p)
            qFatal("missing %s", n.c_str());
        return *p;
    };
    const auto D = std::uint64_t(c.dim), V = std::uint64_t(c.vocabSize), I = std::uint64_t(c.expertDim),
               E = std::uint64_t(c.nExperts), M = std::uint64_t(c.denseDim);

    GgufBuilder b;
    b.kvString("general.architecture", "llama4");
    b.kvString("general.name", name);
    b.kvU32("llama4.block_count", std::uint32_t(c.nLayers));
    b.kvU32("llama4.context_length", 131072);
    b.kvU32("llama4.embedding_length", std::uint32_t(D));
    b.kvU32("llama4.feed_forward_length", std::uint32_t(M));
    b.kvU32("llama4.expert_feed_forward_length", std::uint32_t(I));
    b.kvU32("llama4.attention.head_count", std::uint32_t(c.nHeads));
    b.kvU32("llama4.attention.head_count_kv", std::uint32_t(c.nKvHeads));
    b.kvU32("llama4.rope.dimension_count", std::uint32_t(c.headDim));
    kvF32(b, "llama4.rope.freq_base", c.ropeTheta);
    kvF32(b, "llama4.attention.layer_norm_rms_epsilon", c.rmsEps);
    b.kvU32("llama4.expert_count", std::uint32_t(E));
    b.kvU32("llama4.expert_used_count", std::uint32_t(c.expertsPerToken));
    b.kvU32("llama4.interleave_moe_layer_step", name == "dense_moe_mix" ? 2 : 1);
    b.kvU32("llama4.vocab_size", std::uint32_t(V));
    // Quire's own keys for what llama.cpp hard-codes (chunk 8192, floor scale 8192).
    b.kvU32("llama4.attention.chunk_size", std::uint32_t(c.chunkSize));
    kvF32(b, "llama4.attention.temperature_floor_scale", c.floorScale);
    kvF32(b, "llama4.attention.temperature_scale", c.attnScale);

    b.tensor("token_embd.weight", {D, V}, kF32, bytesOf(floats(t("model.embed_tokens.weight"))));
    b.tensor("output.weight", {D, V}, kF32, bytesOf(floats(t("lm_head.weight"))));
    b.tensor("output_norm.weight", {D}, kF32, bytesOf(floats(t("model.norm.weight"))));
    const auto factors = ropeFactors(c);
    b.tensor("rope_freqs.weight", {factors.size()}, kF32, bytesOf(factors));
    for (int l = 0; l < c.nLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".", q = "blk." + std::to_string(l) + ".";
        b.tensor(q + "attn_norm.weight", {D}, kF32, bytesOf(floats(t(p + "input_layernorm.weight"))));
        b.tensor(q + "ffn_norm.weight", {D}, kF32, bytesOf(floats(t(p + "post_attention_layernorm.weight"))));
        const std::uint64_t qd = std::uint64_t(c.qDim()), kv = std::uint64_t(c.kvDim());
        b.tensor(q + "attn_q.weight", {D, qd}, type,
                 encode(floats(t(p + "self_attn.q_proj.weight")), c.dim, type));
        b.tensor(q + "attn_k.weight", {D, kv}, type,
                 encode(floats(t(p + "self_attn.k_proj.weight")), c.dim, type));
        b.tensor(q + "attn_v.weight", {D, kv}, type,
                 encode(floats(t(p + "self_attn.v_proj.weight")), c.dim, type));
        b.tensor(q + "attn_output.weight", {qd, D}, type,
                 encode(floats(t(p + "self_attn.o_proj.weight")), c.qDim(), type));
        const std::string f = p + "feed_forward.";
        if (c.moe[std::size_t(l)]) {
            b.tensor(q + "ffn_gate_inp.weight", {D, E}, kF32, bytesOf(floats(t(f + "router.weight"))));
            // HF [E, D, 2I] and [E, I, D] -> GGUF [E][I][D] (gate, up) and [E][D][I] (down).
            const auto gu = floats(t(f + "experts.gate_up_proj")), dn = floats(t(f + "experts.down_proj"));
            std::vector<float> gate(E * I * D), up(E * I * D), down(E * D * I);
            for (std::uint64_t e = 0; e < E; ++e)
                for (std::uint64_t i = 0; i < I; ++i)
                    for (std::uint64_t k = 0; k < D; ++k) {
                        gate[(e * I + i) * D + k] = gu[(e * D + k) * 2 * I + i];
                        up[(e * I + i) * D + k] = gu[(e * D + k) * 2 * I + I + i];
                        down[(e * D + k) * I + i] = dn[(e * I + i) * D + k];
                    }
            // Q8_0 needs rows of 32: the 48-wide down rows of dense_moe_mix stay F32.
            const std::uint32_t downType = I % 32 == 0 ? type : kF32;
            b.tensor(q + "ffn_gate_exps.weight", {D, I, E}, type, encode(gate, c.dim, type));
            b.tensor(q + "ffn_up_exps.weight", {D, I, E}, type, encode(up, c.dim, type));
            b.tensor(q + "ffn_down_exps.weight", {I, D, E}, downType, encode(down, c.expertDim, downType));
            b.tensor(q + "ffn_gate_shexp.weight", {D, I}, kF32,
                     bytesOf(floats(t(f + "shared_expert.gate_proj.weight"))));
            b.tensor(q + "ffn_up_shexp.weight", {D, I}, kF32,
                     bytesOf(floats(t(f + "shared_expert.up_proj.weight"))));
            b.tensor(q + "ffn_down_shexp.weight", {I, D}, kF32,
                     bytesOf(floats(t(f + "shared_expert.down_proj.weight"))));
        } else {
            b.tensor(q + "ffn_gate.weight", {D, M}, kF32, bytesOf(floats(t(f + "gate_proj.weight"))));
            b.tensor(q + "ffn_up.weight", {D, M}, kF32, bytesOf(floats(t(f + "up_proj.weight"))));
            b.tensor(q + "ffn_down.weight", {M, D}, kF32, bytesOf(floats(t(f + "down_proj.weight"))));
        }
    }
    const auto bytes = b.build();
    const auto path = dir / (name + (type == kF32 ? ".f32.gguf" : ".q8_0.gguf"));
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

std::vector<float> allLogits(const std::shared_ptr<const ModelWeights>& w,
                             const std::vector<std::int32_t>& tokens, const char* backend = "cpu")
{
    RunnerOptions o;
    o.threads = 2;
    auto runner = (*findBackend(backend))->createRunner(w, o);
    if (!runner)
        qFatal("%s", runner.error().message.c_str());
    std::vector<float> logits(tokens.size() * std::size_t(w->config.vocabSize), NAN);
    if (!(*runner)->forward(tokens, logits, true))
        qFatal("forward failed");
    return logits;
}

// A safetensors file of F32 tensors (name, shape, values).
struct StTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

void writeSafetensors(const std::filesystem::path& path, const std::vector<StTensor>& tensors)
{
    std::string header = "{\"__metadata__\": {\"format\": \"pt\"}";
    std::size_t offset = 0;
    for (const StTensor& t : tensors) {
        header += ", \"" + t.name + "\": {\"dtype\": \"F32\", \"shape\": [";
        for (std::size_t i = 0; i < t.shape.size(); ++i)
            header += (i ? ", " : "") + std::to_string(t.shape[i]);
        const std::size_t bytes = t.values.size() * 4;
        header +=
            "], \"data_offsets\": [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) + "]}";
        offset += bytes;
    }
    header += "}";
    while (header.size() % 8)
        header += ' ';
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(header.data(), std::streamsize(header.size()));
    for (const StTensor& t : tensors)
        out.write(reinterpret_cast<const char*>(t.values.data()), std::streamsize(t.values.size() * 4));
}

} // namespace

class TestLlama4Loading : public QObject {
    Q_OBJECT
private slots:
    void sameLogitsAsSafetensors_data()
    {
        QTest::addColumn<QString>("model");
        QTest::newRow("moe_chunked") << "moe_chunked";
        QTest::newRow("dense_moe_mix") << "dense_moe_mix";
    }
    void sameLogitsAsSafetensors()
    {
        QFETCH(QString, model);
        QTemporaryDir dir;
        const auto path = writeGguf(model.toStdString(), dir.path().toStdString(), kF32);
        QVERIFY(isLlama4Model(path));
        auto gguf = loadLlama4Weights(path);
        QVERIFY2(gguf.has_value(), gguf ? "" : gguf.error().message.c_str());
        auto hf = loadLlama4Weights(quire::test::kLlama4Data / model.toStdString());
        QVERIFY(hf.has_value());

        const Llama4Config& a = (*gguf)->llama4;
        const Llama4Config& b = (*hf)->llama4;
        QCOMPARE(a.chunkSize, b.chunkSize);
        QCOMPARE(a.useRope, b.useRope);
        QCOMPARE(a.moe, b.moe);
        QCOMPARE(a.chunked, b.chunked);
        QCOMPARE(a.floorScale, b.floorScale);
        QCOMPARE(a.expertDim, b.expertDim);
        QCOMPARE(a.denseDim, b.denseDim);
        QCOMPARE((*gguf)->ropeFrequencies.size(), (*hf)->ropeFrequencies.size());
        for (std::size_t j = 0; j < (*hf)->ropeFrequencies.size(); ++j)
            QVERIFY(std::fabs((*gguf)->ropeFrequencies[j] / (*hf)->ropeFrequencies[j] - 1) < 1e-6);

        const auto g = quire::test::loadLlama4Golden(model.toStdString());
        const auto fromGguf = allLogits(*gguf, g.tokens);
        const auto fromHf = allLogits(*hf, g.tokens);
        const double diff =
            quire::test::worstRelativeError(fromGguf.data(), fromHf.data(), g.tokens.size(), g.vocab);
        qInfo("%s: GGUF vs safetensors worst relative difference %.3g", qPrintable(model), diff);
        if (b.ropeScaling.highFreqFactor == b.ropeScaling.lowFreqFactor)
            QVERIFY(fromGguf == fromHf); // no blend band: the frequencies, hence all logits, are identical
        else
            QVERIFY(diff < 1e-5); // the blended frequencies round differently as divisors
        QVERIFY(quire::test::worstRelativeError(fromGguf.data(), g.logits.data(), g.tokens.size(), g.vocab) <
                1e-4);
    }

    // A quantized GGML type (Q8_0 attention and experts) goes through the dequantising path on
    // both runners.
    void q8_0Tensors()
    {
        QTemporaryDir dir;
        const auto path = writeGguf("moe_chunked", dir.path().toStdString(), kQ8_0);
        auto w = loadLlama4ModelWeights(path);
        QVERIFY2(w.has_value(), w ? "" : w.error().message.c_str());
        QVERIFY(asLlama4(**w)->blocks[0].wq.format == WeightFormat::Ggml);
        const auto g = quire::test::loadLlama4Golden("moe_chunked");
        const auto fast = allLogits(*w, g.tokens, "cpu");
        const auto ref = allLogits(*w, g.tokens, "cpu-reference");
        QVERIFY(quire::test::worstRelativeError(fast.data(), ref.data(), g.tokens.size(), g.vocab) < 1e-4);
        double kl = 0;
        for (std::size_t t = 0; t < g.tokens.size(); ++t)
            kl = std::max(kl, quire::test::klDivergence(g.logits.data() + t * std::size_t(g.vocab),
                                                        fast.data() + t * std::size_t(g.vocab), g.vocab));
        qInfo("Q8_0 GGUF vs transformers f32: worst next-token KL %.3g nats", kl);
        QVERIFY(kl < 0.05);
    }

    // Llama4ForConditionalGeneration: text weights under language_model.*, vision weights
    // skipped (with a log line), config nested in text_config (transformers 5 rope_parameters,
    // the original upload's integer temperature flag), weights in two shards.
    void conditionalGenerationCheckpoint()
    {
        QTemporaryDir tmp;
        const std::filesystem::path dir = tmp.path().toStdString();
        const auto src = quire::test::kLlama4Data / "moe_chunked";
        auto st = SafetensorsFile::open(src / "model.safetensors");
        QVERIFY(st.has_value());
        std::vector<StTensor> shard[2];
        std::string weightMap;
        int i = 0;
        for (const auto& [name, t] : st->tensors()) {
            const int s = i++ % 2;
            shard[s].push_back({"language_model." + name, t.shape, floats(t)});
            weightMap += (weightMap.empty() ? "" : ", ") + std::string("\"language_model.") + name +
                         "\": \"model-0000" + std::to_string(s + 1) + "-of-00002.safetensors\"";
        }
        shard[0].push_back(
            {"vision_model.patch_embedding.linear.weight", {4, 8}, std::vector<float>(32, 0.5f)});
        shard[1].push_back({"multi_modal_projector.linear_1.weight", {4, 4}, std::vector<float>(16, 0.25f)});
        weightMap += ", \"vision_model.patch_embedding.linear.weight\": \"model-00001-of-00002.safetensors\"";
        weightMap += ", \"multi_modal_projector.linear_1.weight\": \"model-00002-of-00002.safetensors\"";
        writeSafetensors(dir / "model-00001-of-00002.safetensors", shard[0]);
        writeSafetensors(dir / "model-00002-of-00002.safetensors", shard[1]);
        std::ofstream(dir / "model.safetensors.index.json")
            << "{\"metadata\": {}, \"weight_map\": {" << weightMap << "}}";
        std::ofstream(dir / "config.json")
            << R"({"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4",
            "image_token_index": 200092, "vision_config": {"hidden_size": 8},
            "text_config": {"model_type": "llama4_text", "vocab_size": 4096, "hidden_size": 128, "num_hidden_layers": 4,
              "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "intermediate_size": 64,
              "intermediate_size_mlp": 256, "num_local_experts": 4, "num_experts_per_tok": 1,
              "interleave_moe_layer_step": 1, "no_rope_layer_interval": 4, "use_qk_norm": true,
              "attention_chunk_size": 16, "attn_temperature_tuning": 4, "floor_scale": 8, "attn_scale": 0.1,
              "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 16.0,
                "low_freq_factor": 1.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192},
              "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "hidden_act": "silu",
              "tie_word_embeddings": false}})";

        std::vector<std::string> logs;
        setLogCallback([&](LogLevel, std::string_view m) { logs.emplace_back(m); });
        QVERIFY(isLlama4Model(dir));
        auto w = loadLlama4ModelWeights(dir);
        setLogCallback({});
        QVERIFY2(w.has_value(), w ? "" : w.error().message.c_str());
        QVERIFY(std::ranges::any_of(logs, [](const std::string& m) {
            return m.find("skipping 2 vision tensors") != std::string::npos;
        }));
        const auto g = quire::test::loadLlama4Golden("moe_chunked");
        const auto logits = allLogits(*w, g.tokens);
        const auto direct = allLogits(*loadLlama4ModelWeights(src), g.tokens);
        QVERIFY(logits == direct);
        QVERIFY(quire::test::worstRelativeError(logits.data(), g.logits.data(), g.tokens.size(), g.vocab) <
                1e-4);
    }

    void rejectsOtherArchitectures()
    {
        QTemporaryDir dir;
        GgufBuilder b;
        b.kvString("general.architecture", "llama");
        const auto bytes = b.build();
        const auto path = std::filesystem::path(dir.path().toStdString()) / "llama.gguf";
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        QVERIFY(!isLlama4Model(path));
        auto w = loadLlama4Weights(path);
        QVERIFY(!w.has_value());
        QCOMPARE(w.error().code, ErrorCode::Unsupported);
    }
};

QTEST_GUILESS_MAIN(TestLlama4Loading)
#include "test_llama4_loading.moc"
