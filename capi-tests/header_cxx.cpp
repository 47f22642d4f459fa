// The generated header must compile as C++ too (extern "C", no C-only syntax).
#include "smisk.h"

int main() {
    return smisk_version_number() == SMISK_VERSION_NUMBER ? 0 : 1;
}
