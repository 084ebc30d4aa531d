#include <sqlite3.h>

/* SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift does not import. */
static inline sqlite3_destructor_type dlg_sqlite_transient(void) { return SQLITE_TRANSIENT; }
