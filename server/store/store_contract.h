/* The store's contract, checked once above every backend (store_contract.c). The front's. */
#ifndef SCEPD_STORE_CONTRACT_H
#define SCEPD_STORE_CONTRACT_H

#include "store/store.h"

/* A handle that checks each call against store.h's contract and passes what satisfies it on to
 * inner, which it owns from now on (closed with it). NULL (inner closed) when out of memory. */
store *store_contract_wrap(store *inner);

#endif
