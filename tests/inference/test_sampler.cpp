// Sampler (greedy, temperature, top-k, top-p, min-p, penalties, seeds) and chat templates.
#include <QTest>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "quire/inference/chat_template.h"
#include "quire/inference/sampler.h"

using namespace quire::inference;

namespace {

// Counts of each token over n draws from logits.
std::map<int, int> histogram(SamplerConfig c, const std::vector<float>& logits, int n,
                             const std::vector<std::int32_t>& history = {})
{
    Sampler s(c);
    std::map<int, int> h;
    for (int i = 0; i < n; ++i)
        ++h[s.sample(logits, history)];
    return h;
}

} // namespace

class TestSampler : public QObject {
    Q_OBJECT
private slots:
    void greedyTakesTheFirstMaximum()
    {
        Sampler s;
        QVERIFY(s.greedy());
        QCOMPARE(s.sample(std::vector<float>{1, 5, 3, 5}, {}), 1);
        QCOMPARE(s.sample(std::vector<float>{-INFINITY, -2, -3}, {}), 1);
    }

    void temperatureSamplesByProbability()
    {
        SamplerConfig c;
        c.temperature = 1.0f;
        const std::vector<float> logits = {0.0f, std::log(3.0f)}; // p = 0.25, 0.75
        const auto h = histogram(c, logits, 20000);
        QVERIFY(std::abs(h.at(1) - 15000) < 400);
        c.temperature = 0.05f; // nearly greedy
        QVERIFY(histogram(c, logits, 2000).at(1) > 1990);
    }

    void topKTopPMinPCut()
    {
        const std::vector<float> logits = {3.0f, 2.9f, 2.8f, 0.0f, -1.0f, -5.0f};
        SamplerConfig c;
        c.temperature = 1.0f;
        c.topK = 2;
        auto h = histogram(c, logits, 3000);
        QCOMPARE(std::set<int>({h.begin()->first, h.rbegin()->first}), (std::set<int>{0, 1}));
        QCOMPARE(h.size(), std::size_t(2));

        c.topK = 0;
        c.topP = 0.5f; // p(0) ~ 0.35, p(0)+p(1) ~ 0.67 -> {0, 1}
        h = histogram(c, logits, 3000);
        QCOMPARE(h.size(), std::size_t(2));

        c.topP = 1.0f;
        c.minP = 0.2f; // keeps tokens with p >= 0.2 * p(0): 0, 1, 2
        h = histogram(c, logits, 3000);
        QCOMPARE(h.size(), std::size_t(3));
        QVERIFY(!h.count(3));
    }

    void penaltiesDiscourageRepeats()
    {
        const std::vector<float> logits = {2.0f, 1.9f, -1.0f};
        SamplerConfig c;
        c.repetitionPenalty = 1.5f; // token 0: 2.0 / 1.5 = 1.33 < 1.9
        QCOMPARE(Sampler(c).sample(logits, std::vector<std::int32_t>{0}), 1);
        c = {};
        c.presencePenalty = 0.2f;
        QCOMPARE(Sampler(c).sample(logits, std::vector<std::int32_t>{0, 0, 0}), 1);
        c = {};
        c.frequencyPenalty = 0.05f; // 0.05 per occurrence: once is not enough, three times is
        QCOMPARE(Sampler(c).sample(logits, std::vector<std::int32_t>{0}), 0);
        QCOMPARE(Sampler(c).sample(logits, std::vector<std::int32_t>{0, 0, 0}), 1);
        c.penaltyWindow = 1; // only the newest token counts
        QCOMPARE(Sampler(c).sample(logits, std::vector<std::int32_t>{0, 0, 2}), 0);
        c = {};
        c.repetitionPenalty = 2.0f; // negative logits are multiplied
        QCOMPARE(Sampler(c).sample(std::vector<float>{-1.0f, -1.5f}, std::vector<std::int32_t>{0}), 1);
    }

    void seedsAreDeterministic()
    {
        std::vector<float> logits(1000);
        for (std::size_t i = 0; i < logits.size(); ++i)
            logits[i] = std::sin(float(i)) * 3.0f;
        SamplerConfig c;
        c.temperature = 1.2f;
        c.seed = 7;
        auto draw = [&](SamplerConfig cfg) {
            Sampler s(cfg);
            std::vector<int> out;
            for (int i = 0; i < 50; ++i)
                out.push_back(s.sample(logits, {}));
            return out;
        };
        const auto a = draw(c), b = draw(c);
        QCOMPARE(a, b);
        c.seed = 8;
        QVERIFY(draw(c) != a);
        Sampler s(c);
        const int first = s.sample(logits, {});
        s.reseed(8);
        QCOMPARE(s.sample(logits, {}), first);
    }

    void chatTemplatesRender()
    {
        const std::vector<ChatMessage> chat = {{"user", "Hi"}};
        const std::string smol =
            "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
            "'<|im_start|>system\n"
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
            "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor "
            "%}";
        const ChatTemplate chatml = ChatTemplate::detect(smol, "llama");
        QCOMPARE(chatml.kind(), ChatTemplate::Kind::ChatML);
        QCOMPARE(chatml.render(chat),
                 std::string("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                             "trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                             "<|im_start|>assistant\n"));
        const std::vector<ChatMessage> withSystem = {{"system", "Be brief."}, {"user", "Hi"}};
        QCOMPARE(chatml.render(withSystem, false),
                 std::string("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"));
        // Qwen2-style escaped newlines; a template that builds the system text from messages has no default.
        QCOMPARE(ChatTemplate::detect(
                     "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}", "qwen2")
                     .defaultSystem(),
                 std::string("You are a helpful assistant."));
        QVERIFY(ChatTemplate::detect("{{ '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>' }}",
                                     "qwen2")
                    .defaultSystem()
                    .empty());

        const ChatTemplate l3 = ChatTemplate::detect("... <|start_header_id|> ...", "llama");
        QCOMPARE(l3.render(withSystem),
                 std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                             "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi"
                             "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"));
        // Llama 4 (llama4-architecture.md 11.2): system text trimmed, user text not.
        const ChatTemplate l4 = ChatTemplate::detect("", "llama4");
        const std::vector<ChatMessage> spaced = {{"system", "  You are helpful. "}, {"user", "Hi "}};
        QCOMPARE(l4.render(spaced),
                 std::string("<|begin_of_text|><|header_start|>system<|header_end|>\n\nYou are helpful."
                             "<|eot|><|header_start|>user<|header_end|>\n\nHi <|eot|>"
                             "<|header_start|>assistant<|header_end|>\n\n"));
        QCOMPARE(l4.stopStrings(), (std::vector<std::string>{"<|eot|>", "<|eom|>"}));
        QCOMPARE(ChatTemplate::detect("", "llama").kind(), ChatTemplate::Kind::Llama3);
        QCOMPARE(ChatTemplate::detect("", "qwen2").kind(), ChatTemplate::Kind::ChatML);
    }
};

QTEST_GUILESS_MAIN(TestSampler)
#include "test_sampler.moc"
