#ifndef DLG_CLIBPQ_SHIM_H
#define DLG_CLIBPQ_SHIM_H
#include <libpq-fe.h>

/* PG_DIAG_* are character macros; typed wrappers here. */
static inline const char *dlg_pq_sqlstate(const PGresult *res) { return PQresultErrorField(res, PG_DIAG_SQLSTATE); }
static inline const char *dlg_pq_primary_message(const PGresult *res) { return PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY); }
#endif
