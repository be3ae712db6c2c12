#pragma once
// What to suggest for a key the tables do not know: "did you mean
// 'model.layers'?", the keys of its section, or where to find them all.
#include <cstddef>
#include <string>
#include <string_view>

namespace pouch {

// Levenshtein distance (insertions, deletions, substitutions of one char each).
std::size_t edit_distance(std::string_view a, std::string_view b);

// For an unknown `name` of [model] ... [checkpoint] (with or without its
// section); `prefix` goes before a suggested name ("--" on the command line).
std::string suggest_key(std::string_view name, std::string_view prefix);

// " (did you mean 'kl_coef'?)" for an unknown [phase.N] key, or "".
std::string suggest_phase_key(std::string_view key);

}  // namespace pouch
