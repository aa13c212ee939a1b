#ifndef CERTCHAIN_CSQLITE_SHIM_H
#define CERTCHAIN_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
