# The package's version is the C library's: SC_VERSION in include/smoothcache.h (a test checks that
# they agree).
__version__ = "0.2.0"
