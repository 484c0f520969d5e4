// Llama 4 configuration parsing (every form of config.json the spec lists), the per-layer
// schedule, RoPE frequencies and query temperature against llama4-architecture.md's worked
// numbers, the memory estimate against the spec's KV table (6.9), and the chat format with the
// Llama 4 tokenizer against the spec's token vector (11.1).
#include <QTest>

#include <cmath>
#include <string>

#include "quire/inference/chat_template.h"
#include "quire/inference/llama4.h"
#include "quire/inference/llama4_memory.h"
#include "quire/inference/tokenizer.h"

using namespace quire::inference;

namespace {

std::string repeat(const std::string& item, int n)
{
    std::string s;
    for (int i = 0; i < n; ++i) {
        if (i)
            s += ',';
        s += item;
    }
    return s;
}

std::string range(int n)
{
    std::string s;
    for (int i = 0; i < n; ++i) {
        if (i)
            s += ',';
        s += std::to_string(i);
    }
    return s;
}

// Scout's published config.json (nested form, original upload's integer temperature flag).
std::string scoutConfig(
    const std::string& ropeBlock =
        R"("rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 16.0, "low_freq_factor": 1.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192})")
{
    return R"({"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4",
      "boi_token_index": 200080, "image_token_index": 200092,
      "text_config": {"model_type": "llama4_text", "hidden_size": 5120, "num_hidden_layers": 48,
        "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 8192,
        "intermediate_size_mlp": 16384, "num_local_experts": 16, "num_experts_per_tok": 1,
        "interleave_moe_layer_step": 1, "moe_layers": [)" +
           range(48) + R"(], "no_rope_layers": [)" + repeat("1,1,1,0", 12) +
           R"(], "attention_chunk_size": 8192, "use_qk_norm": true, "attn_temperature_tuning": 4,
        "floor_scale": 8192, "attn_scale": 0.1, )" +
           ropeBlock + R"(, "rms_norm_eps": 1e-05, "vocab_size": 202048,
        "max_position_embeddings": 10485760, "hidden_act": "silu", "attention_bias": false,
        "tie_word_embeddings": false, "bos_token_id": 200000, "eos_token_id": [200001, 200007, 200008],
        "pad_token_id": 200018, "router_aux_loss_coef": 0.001, "router_jitter_noise": 0.0,
        "for_llm_compressor": false, "cache_implementation": "hybrid"},
      "vision_config": {"hidden_size": 1408, "num_hidden_layers": 34}})";
}

Llama4Config parse(const std::string& text)
{
    auto c = parseLlama4Config(text);
    if (!c)
        qFatal("%s", c.error().message.c_str());
    return *c;
}

float plainFrequency(int j, int d, float theta)
{
    return 1.0f / float(std::pow(double(theta), double(float(2 * j) / float(d))));
}

} // namespace

class TestLlama4Model : public QObject {
    Q_OBJECT
private slots:
    void scoutSchedule()
    {
        const Llama4Config c = parse(scoutConfig());
        QCOMPARE(c.nLayers, 48);
        QCOMPARE(c.dim, 5120);
        QCOMPARE(c.nHeads / c.nKvHeads, 5);
        QCOMPARE(c.headDim, 128);
        QCOMPARE(c.nExperts, 16);
        QCOMPARE(c.vocabSize, 202048);
        QCOMPARE(c.chunkSize, 8192);
        QVERIFY(c.temperatureTuning); // the integer 4
        QCOMPARE(c.eosIds, (std::vector<int>{200001, 200007, 200008}));
        QCOMPARE(c.chunkedLayerCount(), 36);
        QCOMPARE(c.globalLayerCount(), 12);
        for (int l = 0; l < 48; ++l) {
            const bool nope = (l + 1) % 4 == 0; // layers 3, 7, ..., 47
            QCOMPARE(c.useRope[std::size_t(l)] == 0, nope);
            QCOMPARE(c.chunked[std::size_t(l)] == 0, nope);
            QCOMPARE(int(c.moe[std::size_t(l)]), 1);
        }
    }

    void configForms()
    {
        // Flat llama4_text with the interval and the step (the tiny test model's file).
        const Llama4Config flat =
            parse(R"({"model_type": "llama4_text", "hidden_size": 128, "num_hidden_layers": 8,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48, "intermediate_size_mlp": 256,
            "num_local_experts": 4, "interleave_moe_layer_step": 2, "no_rope_layer_interval": 4,
            "attention_chunk_size": 16, "attn_temperature_tuning": false, "vocab_size": 100,
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
        QCOMPARE(flat.headDim, 32); // hidden / heads
        QCOMPARE(flat.moe, (std::vector<std::uint8_t>{0, 1, 0, 1, 0, 1, 0, 1}));
        QCOMPARE(flat.useRope, (std::vector<std::uint8_t>{1, 1, 1, 0, 1, 1, 1, 0}));
        QVERIFY(!flat.temperatureTuning);
        QCOMPARE(flat.ropeTheta, 10000.0f); // from rope_parameters (transformers 5)
        QVERIFY(flat.ropeScaling.type == RopeScaling::Type::Llama3);
        QCOMPARE(flat.ropeScaling.factor, 8.0f);

        // Older files: "type" instead of "rope_type"; the temperature flag as 0.
        const Llama4Config old = parse(scoutConfig(
            R"("rope_theta": 500000.0, "rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, "attn_temperature_tuning": 0)"));
        QVERIFY(old.ropeScaling.type == RopeScaling::Type::Llama3);
        QCOMPARE(old.ropeScaling.highFreqFactor, 4.0f);

        // Explicit lists and layer_types; a null chunk size makes every layer global.
        const Llama4Config lists =
            parse(R"({"model_type": "llama4_text", "num_hidden_layers": 4, "hidden_size": 64,
            "num_attention_heads": 2, "vocab_size": 10, "intermediate_size": 16, "intermediate_size_mlp": 32,
            "no_rope_layers": [1, 0, 1, 1], "moe_layers": [2], "attention_chunk_size": 32,
            "layer_types": ["chunked_attention", "full_attention", "full_attention", "chunked_attention"]})");
        QCOMPARE(lists.moe, (std::vector<std::uint8_t>{0, 0, 1, 0}));
        QCOMPARE(lists.useRope, (std::vector<std::uint8_t>{1, 0, 1, 1}));
        QCOMPARE(lists.chunked, (std::vector<std::uint8_t>{1, 0, 0, 1}));
        const Llama4Config guard =
            parse(R"({"model_type": "llama4_text", "num_hidden_layers": 4, "hidden_size": 64,
            "num_attention_heads": 2, "vocab_size": 10, "attention_chunk_size": null})");
        QCOMPARE(guard.chunkedLayerCount(), 0);
        QCOMPARE(guard.useRope, (std::vector<std::uint8_t>{1, 1, 1, 0}));
    }

    void configErrors()
    {
        auto notLlama4 = parseLlama4Config(R"({"model_type": "llama"})");
        QVERIFY(!notLlama4 && notLlama4.error().code == ErrorCode::Unsupported);
        auto gelu = parseLlama4Config(R"({"model_type": "llama4_text", "hidden_act": "gelu"})");
        QVERIFY(!gelu && gelu.error().message.find("hidden_act") != std::string::npos);
        auto rope =
            parseLlama4Config(R"({"model_type": "llama4_text", "rope_scaling": {"rope_type": "yarn"}})");
        QVERIFY(!rope && rope.error().message.find("yarn") != std::string::npos);
        auto list = parseLlama4Config(
            R"({"model_type": "llama4_text", "num_hidden_layers": 4, "no_rope_layers": [1, 0]})");
        QVERIFY(!list && list.error().message.find("no_rope_layers") != std::string::npos);
        auto moe =
            parseLlama4Config(R"({"model_type": "llama4_text", "num_hidden_layers": 4, "moe_layers": [9]})");
        QVERIFY(!moe && moe.error().message.find("moe_layers") != std::string::npos);
        QVERIFY(!parseLlama4Config("{not json").has_value());
    }

    // 6.3: with theta 500000 and d 128, Scout keeps j = 0..34 and divides 35..63 by 16; the
    // base model (8 / 1 / 4) keeps 0..28, blends 29..34 and divides 35..63 by 8.
    void ropeFrequencies()
    {
        const Llama4Config scout = parse(scoutConfig());
        const auto f = llama4RopeFrequencies(scout);
        QCOMPARE(f.size(), std::size_t(64));
        for (int j = 0; j < 64; ++j) {
            const float plain = plainFrequency(j, 128, 500000.0f);
            QCOMPARE(f[std::size_t(j)], j <= 34 ? plain : plain / 16.0f);
        }
        const Llama4Config base = parse(scoutConfig(
            R"("rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})"));
        const auto b = llama4RopeFrequencies(base);
        for (int j = 0; j < 64; ++j) {
            const float plain = plainFrequency(j, 128, 500000.0f);
            if (j <= 28)
                QCOMPARE(b[std::size_t(j)], plain);
            else if (j <= 34)
                QVERIFY(b[std::size_t(j)] < plain && b[std::size_t(j)] > plain / 8.0f);
            else
                QCOMPARE(b[std::size_t(j)], plain / 8.0f);
        }
    }

    // 6.5: tau = 1 up to position 8190, then 1.0693147 until 16382, 1.1098612 from 16383, ...
    void queryTemperature()
    {
        const Llama4Config c = parse(scoutConfig());
        QCOMPARE(llama4QueryTemperature(c, 0), 1.0f);
        QCOMPARE(llama4QueryTemperature(c, 8190), 1.0f);
        QVERIFY(std::fabs(llama4QueryTemperature(c, 8191) - 1.0693147f) < 1e-6f);
        QVERIFY(std::fabs(llama4QueryTemperature(c, 16382) - 1.0693147f) < 1e-6f);
        QVERIFY(std::fabs(llama4QueryTemperature(c, 16383) - 1.1098612f) < 1e-6f);
        QVERIFY(std::fabs(llama4QueryTemperature(c, 131071) - 1.2833f) < 1e-4f);
        QVERIFY(std::fabs(llama4QueryTemperature(c, 1048575) - 1.4860f) < 1e-4f);
        QVERIFY(std::fabs(llama4QueryTemperature(c, 10485759) - 1.7155f) < 1e-4f);
        Llama4Config off = c;
        off.temperatureTuning = false;
        QCOMPARE(llama4QueryTemperature(off, 10485759), 1.0f);
    }

    // 6.9: bf16 KV is 4 KiB per token per layer; the 36 chunked layers hold at most 8192 tokens
    // (about 1.13 GiB), the 12 global layers 48 KiB per token (48 GiB per 2^20 tokens).
    void scoutMemoryMatchesSpecTable()
    {
        const Llama4Config c = parse(scoutConfig());
        Llama4MemoryOptions o;
        o.contextLength = 1 << 20;
        const auto m = estimateLlama4Memory(c, {}, o);
        QCOMPARE(m.chunkedLayers, 36);
        QCOMPARE(m.globalLayers, 12);
        QCOMPARE(m.kvBytesPerTokenGlobal, std::uint64_t(48 * 1024));
        QCOMPARE(m.kvBytesPerTokenChunked, std::uint64_t(36 * 4096));
        QCOMPARE(m.kvBytesChunked, std::uint64_t(36) * 8192 * 4096); // 1.125 GiB
        QVERIFY(std::fabs(double(m.kvBytesChunked) / double(1 << 30) - 1.13) < 0.01);
        QCOMPARE(m.kvBytesGlobal, std::uint64_t(48) << 30); // 48 GiB per 2^20 tokens
        // Short contexts: chunked layers hold only what exists.
        o.contextLength = 4096;
        const auto s = estimateLlama4Memory(c, {}, o);
        QCOMPARE(s.kvBytesChunked, std::uint64_t(36) * 4096 * 4096);
        QCOMPARE(s.kvBytesGlobal, std::uint64_t(12) * 4096 * 4096);

        // Weights: ~107.8 B parameters, bf16 as stored; the int4-fp8 preset fits an 80 GB GPU.
        QVERIFY(std::fabs(double(m.weightBytes) / 2.0 / 107.8e9 - 1.0) < 0.01);
        QCOMPARE(m.expertBytes, std::uint64_t(48) * 16 * 3 * 5120 * 8192 * 2);
        const auto q = estimateLlama4Memory(c, *Llama4Quantization::preset("int4-fp8"), o);
        // int4: half a byte per weight plus an f32 scale per 128.
        QCOMPARE(q.expertBytes, std::uint64_t(48) * 16 * (2 * 8192 * (2560 + 160) + 5120 * (4096 + 256)));
        QCOMPARE(q.attentionBytes, std::uint64_t(48) * ((5120 + 2048) * (5120 + 4) + 5120 * (5120 + 4)));
        QVERIFY(q.weightBytes > 55e9 && q.weightBytes < 65e9);
        QVERIFY(q.workingBytes > 0);
        o.batchTokens = 4096;
        o.allLogits = true;
        QVERIFY(estimateLlama4Memory(c, {}, o).workingBytes > q.workingBytes);
        QCOMPARE(q.totalBytes, q.weightBytes + q.kvBytes + q.workingBytes);
    }

    // 11.1-11.2: the chat prompt renders and tokenizes to the spec's ids.
    void chatFormatAndSpecialTokens()
    {
        const auto rankFile =
            std::filesystem::path(QUIRE_SHARED_DIR) / "testdata/tokenizers/llama4/tokenizer.model";
        if (!std::filesystem::exists(rankFile))
            QSKIP("no Llama 4 tokenizer.model in the shared test data");
        auto tok = Tokenizer::fromTiktoken(rankFile, TiktokenFlavor::Llama4);
        QVERIFY(tok.has_value());
        const ChatTemplate tmpl = ChatTemplate::detect("", "llama4");
        QVERIFY(tmpl.kind() == ChatTemplate::Kind::Llama4);
        const std::vector<ChatMessage> chat = {{"user", "What is 2+2?"}};
        const std::string text = tmpl.render(chat, true);
        QCOMPARE(text,
                 std::string("<|begin_of_text|><|header_start|>user<|header_end|>\n\nWhat is 2+2?<|eot|>"
                             "<|header_start|>assistant<|header_end|>\n\n"));
        const auto ids = tok->encode(text, false, true);
        QCOMPARE(ids, (std::vector<TokenId>{200000, 200005, 1556, 200006, 368, 3668, 373, 220, 30, 23, 30, 43,
                                            200008, 200005, 140680, 200006, 368}));
        const std::vector<ChatMessage> sys = {{"system", "  You are helpful.\n"}, {"user", "Hi"}};
        QCOMPARE(
            tmpl.render(sys, true),
            std::string("<|begin_of_text|><|header_start|>system<|header_end|>\n\nYou are helpful.<|eot|>"
                        "<|header_start|>user<|header_end|>\n\nHi<|eot|><|header_start|>assistant<|header_"
                        "end|>\n\n"));
        // Generation stops on end_of_text, eom and eot.
        for (const TokenId stop : {200001, 200007, 200008})
            QVERIFY2(tok->isEndOfGeneration(stop), qPrintable(QString::number(stop)));
        QCOMPARE(*tok->tokenId("<|patch|>"), 200092);
        QCOMPARE(*tok->tokenId("<|finetune_right_pad|>"), 200018);
    }
};

QTEST_GUILESS_MAIN(TestLlama4Model)
#include "test_llama4_model.moc"
