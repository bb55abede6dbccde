/* Prints the libs 0.25.4 event table, flag tables and dynamic-parameter tables as JSON lines.
 * Built by gen_table.py against a checkout of falcosecurity/libs `driver/`; only its output
 * (facts: names, numbers, types) is used to generate table_data.rs. */
#include <stdio.h>
#include <string.h>
#include "event_table.c"
#include "flags_table.c"
#include "dynamic_params_table.c"

struct named_ptr { const char *name; const void *ptr; };
static const struct named_ptr g_tables[] = {
#include "tables.inc"
    {0, 0}};

static const char *table_name(const void *p) {
	for(int i = 0; g_tables[i].name; i++)
		if(g_tables[i].ptr == p) return g_tables[i].name;
	return 0;
}

static void print_param(const struct ppm_param_info *p) {
	printf("{\"name\":\"%s\",\"type\":%d,\"fmt\":%d", p->name, p->type, p->fmt);
	if(p->info) {
		const char *t = table_name(p->info);
		if(t) printf(",\"info\":\"%s\"", t);
		else printf(",\"info_int\":%lu", (unsigned long)p->info);
	}
	printf(",\"ninfo\":%u}", p->ninfo);
}

int main(void) {
	for(int e = 0; e < PPM_EVENT_MAX; e++) {
		const struct ppm_event_info *ev = &g_event_info[e];
		printf("EVENT {\"code\":%d,\"name\":\"%s\",\"category\":%d,\"flags\":%d,\"params\":[", e,
		       ev->name, ev->category, ev->flags);
		for(unsigned k = 0; k < ev->nparams; k++) {
			if(k) printf(",");
			print_param(&ev->params[k]);
		}
		printf("]}\n");
	}
	for(int i = 0; g_tables[i].name; i++) {
		if(strstr(g_tables[i].name, "dynamic_param")) continue;
		const struct ppm_name_value *nv = g_tables[i].ptr;
		printf("FLAGS {\"table\":\"%s\",\"values\":[", g_tables[i].name);
		for(int j = 0; nv[j].name; j++)
			printf("%s[\"%s\",%u]", j ? "," : "", nv[j].name, (unsigned)nv[j].value);
		printf("]}\n");
	}
#define DYN(T, N)                                                  \
	printf("DYN {\"table\":\"%s\",\"params\":[", #T);            \
	for(int j = 0; j < N; j++) {                                  \
		if(j) printf(",");                                        \
		print_param(&T[j]);                                       \
	}                                                             \
	printf("]}\n");
	DYN(sockopt_dynamic_param, PPM_SOCKOPT_IDX_MAX)
	DYN(ptrace_dynamic_param, PPM_PTRACE_IDX_MAX)
	DYN(bpf_dynamic_param, PPM_BPF_IDX_MAX)
	DYN(keyctl_dynamic_param, PPM_KEYCTL_IDX_MAX)
	return 0;
}
