# tests/: unit tests are one cmocka program per tests/unit/*.c; tests/tools/*.c are helper
# programs the scripted tests and benchmarks run; tests/fuzz/fuzz_*.c are libFuzzer targets
# (built by clang with FUZZ=1 only).
UNIT_TESTS += $(sort $(wildcard tests/unit/*.c))
TEST_TOOLS += $(foreach s,$(sort $(wildcard tests/tools/*.c)),$(basename $(notdir $(s))):$(s))
FUZZ_TARGETS += $(sort $(wildcard tests/fuzz/fuzz_*.c))
