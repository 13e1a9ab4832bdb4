# util/: the lowest layer, below rules/ and netsetup/: allocation, the growable array, the
# clock, atomic files. Includes nothing of the project.
UTIL_SRCS += $(sort $(wildcard util/*.c))
