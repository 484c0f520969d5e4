// The budget and a checked answer on the terminal (budget, prefill, ask, sample).
#pragma once

#include "cli_support.h"
#include "quire/app/answer_service.h"

namespace quire::cli {

void printBudget(const app::BudgetResult& r);
// The citations with their verification, the attributions, and the timings of an answer.
void printCheckedAnswer(const app::AnswerRecord& r);
// Wires prefill progress (stderr, when it is a terminal) for request `id`.
void connectPrefillProgress(app::AnswerService& service, const quint64& id);
// Ends `wait` with the command's failure when request `id` fails (exit code Cancelled when stopped).
void finishOnFailure(app::AnswerService& service, const quint64& id, Wait& wait, const char* command);

} // namespace quire::cli
