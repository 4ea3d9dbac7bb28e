/*
 * Reads the test vectors of tests/vectors/: hex bytes and key=value
 * expectations, and lists a directory's vectors.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"
#include "vectors.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static int parse_expected(mh_vector *v, char *text)
{
	size_t cap = 0;
	for (char *line = text; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		char *eq;
		if (next != NULL)
			*next++ = '\0';
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		eq = strchr(line, '=');
		if (eq != NULL) {
			if (v->n_kv == cap) {
				size_t ncap = cap ? 2 * cap : 32;
				mh_vector_kv *p = realloc(v->kv, ncap * sizeof(*p));
				if (p == NULL)
					return -1;
				v->kv = p;
				cap = ncap;
			}
			*eq = '\0';
			v->kv[v->n_kv].key = strdup(line);
			v->kv[v->n_kv].value = strdup(eq + 1);
			if (v->kv[v->n_kv].key == NULL || v->kv[v->n_kv].value == NULL) {
				free(v->kv[v->n_kv].key);
				free(v->kv[v->n_kv].value);
				return -1;
			}
			v->n_kv++;
		}
		line = next;
	}
	return 0;
}

int mh_vector_load(mh_vector *v, const char *dir, const char *name)
{
	char path[1024];
	char *text;
	size_t len;
	int rc;

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s.hex", dir, name);
	if ((text = read_file(path, &len)) == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	rc = mh_hex_decode(&v->data, &v->len, text, len) == S_OK ? 0 : -1;
	free(text);
	if (rc != 0) {
		fprintf(stderr, "%s: not hex\n", path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.expected", dir, name);
	if ((text = read_file(path, &len)) == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		mh_vector_free(v);
		return -1;
	}
	rc = parse_expected(v, text);
	free(text);
	if (rc != 0)
		mh_vector_free(v);
	return rc;
}

void mh_vector_free(mh_vector *v)
{
	free(v->data);
	for (size_t i = 0; i < v->n_kv; i++) {
		free(v->kv[i].key);
		free(v->kv[i].value);
	}
	free(v->kv);
	memset(v, 0, sizeof(*v));
}

const char *mh_vector_get(const mh_vector *v, const char *key)
{
	for (size_t i = 0; i < v->n_kv; i++)
		if (strcmp(v->kv[i].key, key) == 0)
			return v->kv[i].value;
	return NULL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

long mh_vector_list(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **out = NULL;
	long n = 0, cap = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".hex") != 0)
			continue;
		if (n == cap) {
			long ncap = cap ? 2 * cap : 32;
			char **p = realloc(out, (size_t)ncap * sizeof(*p));
			if (p == NULL)
				break;
			out = p;
			cap = ncap;
		}
		if ((out[n] = strndup(de->d_name, len - 4)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(out, (size_t)n, sizeof(*out), cmp_names);
	*names = out;
	return n;
}

void mh_vector_list_free(char **names, long n)
{
	for (long i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

uint8_t *mh_vector_read_hex(const char *path, size_t *len)
{
	size_t n, o = 0;
	char *text = read_file(path, &n);
	uint8_t *out = NULL;
	if (text == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		return NULL;
	}
	/* Drop '#' comment lines, keep the rest for the hex decoder. */
	for (size_t i = 0; i < n;) {
		size_t e = i;
		while (e < n && text[e] != '\n')
			e++;
		if (text[i] != '#') {
			memmove(text + o, text + i, e - i);
			o += e - i;
			text[o++] = ' ';
		}
		i = e + 1;
	}
	if (mh_hex_decode(&out, len, text, o) != 0) {
		fprintf(stderr, "%s: not hex\n", path);
		out = NULL;
	}
	free(text);
	return out;
}

bool mh_vector_has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

int mh_vector_request_type(const char *path, char *out, size_t cap)
{
	static const char key[] = "# X-RequestType: ";
	char line[1024];
	int found = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL || cap == 0)
		return f != NULL ? (fclose(f), 0) : 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, sizeof(key) - 1) != 0)
			continue;
		size_t k = strcspn(line + sizeof(key) - 1, "\r\n");
		if (k >= cap)
			k = cap - 1;
		memcpy(out, line + sizeof(key) - 1, k);
		out[k] = '\0';
		found = 1;
	}
	fclose(f);
	return found;
}

uint64_t mh_test_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}
