// td::random: Philox-4x32-10 generators (filled in by the random module work).
#include "core/random/generator.h"
