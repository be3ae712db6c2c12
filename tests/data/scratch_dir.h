#pragma once
// The data tests' name for the shared scratch directory.
#include "tests/support/temp_dir.h"

namespace pouch {

using ScratchDir = testing::TempDir;

}  // namespace pouch
