/*
 * spool.h - the on-disk protocol of jobspool.  Everything that touches the
 * spool directory goes through these functions; man 5 jobspool describes
 * the same contract for people.
 *
 * SPOOL/                      one flat directory, not writable by others
 *   tmp/                      files being written; never read as jobs
 *   <id>.pending              waiting; claimed by rename to .wip
 *   <id>.wip                  claimed/running; mtime is the lease heartbeat
 *   <id>.completed|failed|cancelled   final
 *   <id>.retrieved            final and fetched by a client
 *   <id>.log                  the job's output (appended while it runs)
 *   <id>.cancel               request to cancel a running job
 *   jobs.lock                 byte-range locks serialising changes of one job
 *
 * Every JSON file appears atomically: written under tmp/, fsync'ed, renamed
 * into place (js_spool_write_file).  What must survive a power loss (an
 * accepted submission, a final result: jobspool(5), "Atomicity and
 * durability") is written
 * JS_DURABLE: the directory is fsync'ed too, one fsync shared by the
 * threads that ask at the same time (group commit).  A claim, the pid
 * record, a heartbeat, an annotation are JS_RELAXED: no directory fsync.
 *
 * Who may do what (so that nothing races a claim):
 *   - claim is a bare rename .pending -> .wip (no lock): one claimer wins,
 *     the others get ENOENT.
 *   - every other change of a job takes that job's lock (an OFD lock on one
 *     byte of jobs.lock chosen by the id; released by the kernel if the
 *     process dies), reads the current file, and checks it is still the one
 *     it means to change.
 *   - a pending job's content is only ever replaced by RENAME_EXCHANGE with
 *     the existing .pending: if a processor claimed it meanwhile, the
 *     exchange fails with ENOENT and no second .pending can appear.
 *   - a pending job is cancelled by renaming .pending -> .cancelled, so the
 *     claim and the cancel are the same kind of race with one winner.
 *   - a change a client asks for (update, cancel, both at once) is one
 *     js_spool_edit: decided on the job as it is, under its lock, and
 *     written whole or not at all; if a claim wins the race it is decided
 *     again on the running job.
 *   - each claim increases "generation" (the fencing token); finish and
 *     requeue of a .wip succeed only if its generation is still the one of
 *     the caller's claim.  Recovering an expired lease increases it too, so
 *     a late processor cannot overwrite the newer run's result.
 *
 * Return convention: 0 on success, -1 with errno set on failure.  Outcomes
 * that are not failures have their own errno: ENOENT (no such job, or the
 * claim was lost to another processor), ESTALE (fenced: the lease was lost),
 * EBUSY (the job is running), EALREADY (already final), EINVAL (bad id),
 * EBADMSG (the file is not a valid job).  Functions returning json_t *
 * return a new reference or NULL with errno set.
 */
#ifndef JS_SPOOL_H
#define JS_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <dirent.h>
#include <jansson.h>

#include "deps.h"
#include "job.h"
#include "util.h"

struct js_spool;

#define JS_SPOOL_CREATE 0x1	/* create the spool directory if missing */
/* JS_SPOOL_VOLATILE: nothing written to this spool is ever synced, and a
 * running job's file is not kept as <id>.held: for a directory whose jobs
 * are copies, the truth being elsewhere (a remote processor's work
 * directory: after a power loss its server's leases run the jobs again).
 * Readers of such a spool must expect a file a power loss emptied. */
#define JS_SPOOL_VOLATILE 0x2

/*
 * Opens the spool at path: it must be a directory, not a symlink's target
 * chosen by someone else, and not writable by others (mode o+w refused).
 * Creates tmp/ (0770) if missing.  Returns NULL with a message in err.
 */
struct js_spool *js_spool_open(const char *path, int flags, char *err,
    size_t errlen);
void js_spool_close(struct js_spool *sp);
int js_spool_fd(const struct js_spool *sp);	/* the directory fd */
int js_spool_tmpfd(const struct js_spool *sp);	/* tmp/ fd */
const char *js_spool_path(const struct js_spool *sp);

/* Checks the spool is still usable: writable, not vanished.  Returns 0, or
 * -1 with a reason in err (for /healthz). */
int js_spool_check(struct js_spool *sp, char *err, size_t errlen);

/* Builds the file name "<id>.<ext>" into out (JS_NAME_SIZE bytes) after
 * checking the id; -1/EINVAL for a bad id. */
#define JS_NAME_SIZE 64
int js_spool_name(char out[JS_NAME_SIZE], const char *id, const char *ext);

/*
 * Classifies a directory entry: "<id>.<ext>" with a valid id.  Sets id and
 * *state (a job state, or -1 for sidecars "log", "cancel" and "held", whose
 * name is returned in *sidecar).  Returns 0, or -1 if the name is not ours.
 */
int js_spool_parse_name(const char *name, char id[JS_ID_SIZE], int *state,
    const char **sidecar);

/* Atomic write primitive (tmp, fsync, rename, fsync dir), mode 0660.
 * With JS_WRITE_NOREPLACE it fails with EEXIST rather than replace.
 * The durability mode is JS_DURABLE (0: the rename is on disk when it
 * returns) or JS_RELAXED (no directory fsync: after a power loss the name
 * may be the old file or missing, but never a file without its data, so
 * the file's data is still synced before the rename). */
#define JS_WRITE_NOREPLACE 0x1
#define JS_DURABLE 0x0
#define JS_RELAXED 0x2
/* JS_VOLATILE: nothing synced, neither the file's data nor the directory:
 * for a record nobody needs after a power loss (a processor's registry
 * entry: no processor is alive then), whose readers skip a file a power
 * loss emptied. */
#define JS_VOLATILE 0x4
int js_spool_write_file(struct js_spool *sp, const char *name, const void *data,
    size_t len, int flags);
/* js_spool_write_file of o as one line of compact JSON (js_json_dumps):
 * the sidecar records (registry, pause, revocations).  0, or -1 with errno
 * (ENOMEM when it cannot be dumped). */
int js_spool_write_json(struct js_spool *sp, const char *name,
    const json_t *o, int flags);
/* Makes every rename and unlink done so far in the spool directory
 * durable: one fsync of it, shared by the threads that call at the same
 * time (a caller waits at most for the fsync running when it arrived and
 * the one after it).  The thread that starts an fsync first waits, at
 * most JS_GROUP_WAIT_NS, for the durable js_spool_write_file calls other
 * threads have begun, so that they share it (group commit); with none
 * under way it starts at once.  0, or -1 with the fsync's errno for every
 * caller whose changes it was to cover. */
int js_spool_sync(struct js_spool *sp);
/* The longest a sync waits for more changes to share it: here, and in
 * the processor's committer for results ending close together. */
#define JS_GROUP_WAIT_NS (2 * 1000 * 1000)
/* The directory fsyncs js_spool_sync has run on sp so far. */
unsigned long long js_spool_syncs(struct js_spool *sp);

/* Publishes a new stored job (from js_job_new) as <id>.pending. */
int js_spool_submit(struct js_spool *sp, const json_t *job);
/* Publishes n jobs all or nothing: all are written and synced in tmp/
 * first, then renamed; if any step fails the ones already published are
 * taken back (unless a processor claimed one in that instant). */
int js_spool_submit_many(struct js_spool *sp, json_t *const *jobs, size_t n);

/* Finds a job's current state without reading it.  -1/ENOENT if none. */
int js_spool_find(struct js_spool *sp, const char *id, enum js_state *state);
/* The mtime (ms) and size of <id>.<state> without reading it (what
 * JS_LIST_STAT gives for one job).  -1/ENOENT if there is no such file. */
int js_spool_stat(struct js_spool *sp, const char *id, enum js_state state,
    int64_t *mtime_ms, off_t *size);
/* Reads a job in whatever state it is; *state is set if not NULL.  Its
 * "status" is made to agree with the file's extension. */
json_t *js_spool_read(struct js_spool *sp, const char *id, enum js_state *state);
/* The raw bytes of job id's file, found as js_spool_read probes the states
 * (one pass), into buf (cap bytes): their number in *len, the state in
 * *state.  -1/ENOENT when none is found, EBADMSG when it is no regular
 * file or is larger than cap (js_spool_read then decides what it is). */
int js_spool_read_bytes(struct js_spool *sp, const char *id, char *buf,
    size_t cap, size_t *len, enum js_state *state);
/* The job js_spool_read makes of a file's bytes in state: parsed, with
 * "status" and "id" made to agree with the file's name.  NULL/EBADMSG (or
 * ENOMEM).  A .wip read from its .held is js_spool_read's alone. */
json_t *js_spool_job_from_bytes(const char *buf, size_t len, const char *id,
    enum js_state state);
/* Where a job is now, without missing it while it moves: js_spool_find
 * under the job's lock (only a claim or cancel of a pending job can move it
 * then, forward in the order it probes).  -1/ENOENT if there is no job. */
int js_spool_locate(struct js_spool *sp, const char *id, enum js_state *state);
/* Reads a job where it is now (js_spool_locate, then its file; again if
 * it moved meanwhile).  NULL/ENOENT only if there is no such job. */
json_t *js_spool_read_current(struct js_spool *sp, const char *id,
    enum js_state *state);
/* Reads the job file of one given state. */
json_t *js_spool_read_state(struct js_spool *sp, const char *id,
    enum js_state state);

struct js_entry {
	char id[JS_ID_SIZE];
	enum js_state state;
	int64_t mtime_ms;	/* only with JS_LIST_STAT, else 0 */
	off_t size;		/* only with JS_LIST_STAT, else 0 */
};
#define JS_LIST_STAT 0x1	/* fill mtime_ms and size (one fstatat each) */
/* A directory stream over the spool directory (its own descriptor), for
 * callers that walk every entry; close with closedir().  NULL with errno. */
DIR *js_spool_opendir(struct js_spool *sp);
/* A directory stream over the spool's subdirectory sub (idem/, revoked/,
 * processors/, paused.d/), not following a symlink: 1 with *d set (close
 * with closedir()), 0 with *d NULL when it does not exist, -1 with errno. */
int js_spool_opensub(struct js_spool *sp, const char *sub, DIR **d);
/* Lists the jobs whose state is in mask (JS_STATE_BIT()s): a new array in
 * *out (caller frees) of *n entries, in directory order.  Costs one
 * readdir of the spool, plus one fstatat per listed job with JS_LIST_STAT. */
int js_spool_list(struct js_spool *sp, unsigned mask, int flags,
    struct js_entry **out, size_t *n);

/* A claim held by a processor. */
struct js_claim {
	char id[JS_ID_SIZE];
	long long generation;	/* fencing token of this claim */
};

/*
 * Claims a pending job: touches <id>.pending (fresh lease), renames it to
 * <id>.wip, and reads it.  On success *job is the normalised job with
 * status "running", attempts + 1, generation + 1, started_at and worker
 * set, and c holds the fencing token; nothing is written yet: call
 * js_spool_start() once the process runs.  -1/ENOENT: another claimer won.
 * -1/EBADMSG: the file was not a valid job; it has been moved to
 * <id>.failed with an error saying why, and *job holds that failed job.
 * -1/EAGAIN: its start time (lib/sched: run_at, not_before) has not come,
 * or a job it depends on (lib/deps: after, after_any) has not ended; it is
 * pending again as it was (the claimer read an older file).
 * -1/ENOLINK: a job it depends on ended without success, is gone, or waits
 * for it (a cycle): it has been moved to <id>.failed with an error naming
 * that job, and *job holds that failed job.  Any
 * other errno (EMFILE, ENOMEM, EIO: the file could not be read): the job
 * is pending again as it was, or, if even that failed, left as an
 * unstarted <id>.wip for lease recovery; never failed for it.
 */
int js_spool_claim(struct js_spool *sp, const char *id, const char *worker,
    struct js_claim *c, json_t **job);
/*
 * A processor's hold on the <id>.wip of one of its runs, so that it does
 * not read back and parse what it claimed or wrote itself: the file open
 * (wip; -1: none).  While <id>.wip is that file (one fstatat: same inode,
 * and an inode held open is never reused for another file) the claim
 * holds, as nobody changes a job file in place; otherwise (replaced by an
 * annotation, a recovery) the file is read and checked as before.
 */
struct js_pin {
	int wip;
};
/* js_spool_claim that leaves *pin holding the claimed <id>.wip (on
 * failure: none). */
int js_spool_claim_pin(struct js_spool *sp, const char *id,
    const char *worker, struct js_claim *c, json_t **job, struct js_pin *pin);
/* js_spool_start checking the claim by pin; pin then holds the new
 * <id>.wip.  The claimed file is kept as <id>.held until the run ends, and
 * the new <id>.wip's data is then not synced (jobspool(5), "Atomicity and
 * durability"): a reader of an <id>.wip that is not valid JSON reads
 * <id>.held instead. */
int js_spool_start_pin(struct js_spool *sp, const struct js_claim *c,
    json_t *job, struct js_pin *pin);
/* A start record written by the job's own process between vfork and exec
 * (jobspool(5), "Atomicity and durability"; jobspool-processor(8)): what
 * js_spool_start_pin does, cut in three.  js_spool_start_open takes the
 * job's lock, checks the claim by pin, keeps the claimed file as
 * <id>.held, creates the new file in tmp/ and renders the job (without
 * "pid" and "pid_start") into text.  js_spool_start_write, which is
 * async-signal-safe (no allocation, no lock: write, fsync, rename), adds
 * pid and pid_start, writes it and renames it to <id>.wip; the child calls
 * it before it executes the job.  js_spool_start_close releases the lock
 * and, when the record was written, sets "pid" and "pid_start" in job and
 * leaves pin holding the new <id>.wip; otherwise the file in tmp/ goes. */
struct js_start {
	int lock;		/* the job's lock (js_spool_lock) */
	int fd;			/* the new file, in tmp/ until written */
	int sync;		/* no <id>.held: the data is synced */
	int tmpdir, dir;	/* the spool's tmp/ and its directory */
	char tmpname[JS_NAME_SIZE], wip[JS_NAME_SIZE];
	char *text;		/* the job up to its closing brace */
	size_t len;
	/* set by js_spool_start_write (in the child: shared memory) */
	int written;
	int exchanged;		/* the old <id>.wip is in tmp/ as tmpname */
	int pid;
	long long pid_start;
};
/* 0, or -1 with errno (-1/ESTALE: the claim no longer holds); nothing to
 * close then. */
int js_spool_start_open(struct js_spool *sp, const struct js_claim *c,
    json_t *job, const struct js_pin *pin, struct js_start *st);
/* 0, or -1 with errno (nothing renamed).  pid_start -1: not known (left
 * out). */
int js_spool_start_write(struct js_start *st, int pid, long long pid_start);
/* 0 when the record was written, else -1 (errno kept). */
int js_spool_start_close(struct js_start *st, json_t *job,
    struct js_pin *pin);
/* js_spool_finish checking the claim by pin; flags JS_DURABLE, or
 * JS_RELAXED: the final file's data is synced before its rename but the
 * directory is not, for the caller to share one js_spool_sync among
 * several results before it tells anyone of them; <id>.wip then stays
 * (every lookup finds the job running) until js_spool_finish_done. */
int js_spool_finish_pin(struct js_spool *sp, const struct js_claim *c,
    json_t *job, enum js_state state, const struct js_pin *pin, int flags);
/* The two halves of js_spool_finish_pin, for a caller with several
 * results at once (the processor's committer): each written ahead, their
 * writes to the disk started together, then each synced and renamed in
 * place, the sync finding its data written or on its way.  A js_final
 * holds one descriptor until it is used or dropped. */
struct js_final {
	int fd;			/* the file in tmp/; -1: none */
	enum js_state state;
	json_t *job;		/* the caller's */
	json_t *set;		/* its final fields, set once in place */
	char tmpname[JS_NAME_SIZE];
};
/* Writes job, with its status, generation, finished_at and updated_at
 * for state (a final one, else EINVAL), into tmp/, its write to the disk
 * started (sync_file_range), not waited for; job gets those fields when
 * js_spool_finish_final has put the file in place.  0, or -1 with errno
 * (nothing left). */
int js_spool_final_ahead(struct js_spool *sp, const struct js_claim *c,
    json_t *job, enum js_state state, struct js_final *fin);
/* Puts fin in place as the job's final file, as js_spool_finish_pin with
 * flags: under the job's lock, while the claim holds (pin NULL: checked
 * by the file's content), its data synced before the rename.  fin is used
 * up either way.  0, or -1 with errno (ESTALE: the claim was lost). */
int js_spool_finish_final(struct js_spool *sp, const struct js_claim *c,
    struct js_final *fin, const struct js_pin *pin, int flags);
/* Closes and removes a js_final not put in place (none: nothing). */
void js_spool_final_drop(struct js_spool *sp, struct js_final *fin);
/* After a JS_RELAXED finish and the js_spool_sync that made its final
 * file durable: removes <id>.wip (while it is still the pinned file, or,
 * unpinned, still holds the claim), <id>.held and <id>.cancel.  0 (also
 * when <id>.wip is gone, or another's now: lease recovery removes it), or
 * -1 with errno. */
int js_spool_finish_done(struct js_spool *sp, const struct js_claim *c,
    const struct js_pin *pin);
/* Closes what pin holds (none: nothing). */
void js_spool_unpin(struct js_pin *pin);
/* js_spool_read_state of <id>.wip that leaves *pin holding the file it
 * read (none if it read <id>.held instead, or nothing): a claim checked
 * by it (js_spool_finish_pin) need not read the file again. */
json_t *js_spool_read_wip_pin(struct js_spool *sp, const char *id,
    struct js_pin *pin);

/* What the dependencies (lib/deps) of the job id (as read: job) say now,
 * each looked up where it is under its lock (a retrieved job by its
 * status); *r as js_deps_eval sets it.  Call it holding no job's lock.
 * 0, or -1 with errno if a dependency could not be looked up. */
int js_spool_deps(struct js_spool *sp, const char *id, const json_t *job,
    struct js_deps_result *r);

/* Writes the running job (with pid, pid_start) into <id>.wip if the claim
 * still holds (the apiserver's claim for a remote worker): as
 * js_spool_start_pin does, the claimed file is kept as <id>.held and the
 * record's data is not synced.  -1/ESTALE if it does not. */
int js_spool_start(struct js_spool *sp, const struct js_claim *c,
    json_t *job);
/* Sets one field of a running job in <id>.wip (rewritten atomically, under
 * the job's lock) if the claim of that generation still holds: how an
 * executor records what it must find again after a crash (the Slurm job id,
 * say).  The processor re-reads such fields before it writes the result.
 * -1/ESTALE if the claim was lost. */
int js_spool_annotate(struct js_spool *sp, const char *id, long long generation,
    const char *key, json_t *value);
/* Refreshes the lease (mtime of <id>.wip).  -1/ENOENT if it is gone. */
int js_spool_heartbeat(struct js_spool *sp, const char *id);
/* The same, under the job's lock, only if the claim of that generation
 * still holds (a remote worker's heartbeat).  -1/ESTALE if it does not. */
int js_spool_heartbeat_gen(struct js_spool *sp, const char *id,
    long long generation);
/*
 * Appends a remote worker's log bytes: buf (len bytes) belongs at byte
 * offset of <id>.log.  Under the job's lock, if <id>.wip is running with
 * that generation: bytes before the log's current size S are skipped (a
 * resumed upload), the rest appended.  0 with *size the new size;
 * -1/ESTALE if the claim does not hold; -1/ERANGE if offset > S (a gap;
 * *size = S).  The log is opened as js_spool_log_open does (O_NOFOLLOW,
 * 0640), and created only by a write: a call that appends nothing or is
 * refused leaves no <id>.log behind.
 */
int js_spool_log_append(struct js_spool *sp, const char *id,
    long long generation, uint64_t offset, const void *buf, size_t len,
    uint64_t *size);
/*
 * Finishes a claimed job as state (JS_COMPLETED, JS_FAILED or
 * JS_CANCELLED): sets status, finished_at, updated_at, writes <id>.<state>
 * and removes <id>.wip and any <id>.cancel.  -1/ESTALE if the claim was
 * lost (the result is then discarded: someone else owns the job).
 */
int js_spool_finish(struct js_spool *sp, const struct js_claim *c, json_t *job,
    enum js_state state);
/*
 * Returns a claimed job to <id>.pending (status "pending", generation + 1).
 * give_back_attempt undoes the claim's attempt count (graceful shutdown);
 * not_before_ms > 0 delays the next claim (retry backoff).  -1/ESTALE if
 * the claim was lost.
 */
int js_spool_requeue(struct js_spool *sp, const struct js_claim *c, json_t *job,
    int give_back_attempt, int64_t not_before_ms);
/* js_spool_requeue checking the claim by pin (js_spool_claim_pin,
 * js_spool_start_pin): also a claim whose run never started, whose
 * <id>.wip still holds the job as it was pending. */
int js_spool_requeue_pin(struct js_spool *sp, const struct js_claim *c,
    json_t *job, int give_back_attempt, int64_t not_before_ms,
    const struct js_pin *pin);

/* Called for each lease recovered, before the job is requeued or failed,
 * with the id of its file name (a hand-written job may have no "id" field):
 * the callback may kill what is left of the old run (see the job's
 * "worker", "pid" and "pid_start").  */
typedef void (*js_recover_fn)(const char *id, const json_t *job, void *arg);
/*
 * Recovers every <id>.wip whose heartbeat is older than lease_ms: back to
 * .pending (generation + 1) while attempts < max_attempts, else .failed
 * with an error saying the processor was lost; a job whose cancel was
 * requested (<id>.cancel) ends .cancelled instead, and the request is
 * removed.  A .wip beside a final file (crash during finish) is removed.
 * Returns the number recovered, or -1.
 */
int js_spool_recover(struct js_spool *sp, int64_t lease_ms, js_recover_fn fn,
    void *arg);
/* The same for one job: 1 if its lease had expired and it was recovered,
 * 0 if not (fresh, gone), -1 on error. */
int js_spool_recover_job(struct js_spool *sp, const char *id,
    int64_t lease_ms, js_recover_fn fn, void *arg);

/*
 * One change of one job, all or nothing: the read-modify-write of a job
 * is this one call, under the job's lock.  fn gets the job as it is now
 * (a private copy whose "status" agrees with its file) and its state,
 * edits the copy in place and returns what to do with it:
 *   JS_EDIT_NONE    nothing to write.
 *   JS_EDIT_WRITE   store the copy in the same state: a pending job's file
 *                   is swapped with RENAME_EXCHANGE (never created), a final
 *                   one replaced.  A running job's file belongs to its
 *                   processor: -1/EBUSY.
 *   JS_EDIT_CANCEL  a pending job becomes <id>.cancelled holding the copy
 *                   (status "cancelled", finished_at and updated_at now,
 *                   "error" as fn set it, else "cancelled"); a running job
 *                   gets <id>.cancel, holding the copy's "error", for its
 *                   processor (the rest of the copy is dropped; a request
 *                   already there is kept as it is).  A final job:
 *                   -1/EALREADY.
 * or -1 with errno to refuse: nothing is written and js_spool_edit returns
 * -1 with that errno.  If a processor claims the pending job between the
 * read and the write, nothing is written and fn decides again on the
 * running job: fn may run more than once, each time on a fresh copy.  fn
 * must not call js_spool functions that take this job's lock.
 * Returns 0 with *job (if job is not NULL; a new reference) the job as it
 * now is (as fn left it) and *state (if not NULL) its state; -1 with errno
 * (ENOENT: no such job; EINVAL: bad id; EBADMSG: not a valid job file).
 */
enum js_edit {
	JS_EDIT_NONE,
	JS_EDIT_WRITE,
	JS_EDIT_CANCEL
};
typedef int (*js_edit_fn)(json_t *job, enum js_state state, void *arg);
int js_spool_edit(struct js_spool *sp, const char *id, js_edit_fn fn,
    void *arg, json_t **job, enum js_state *state);

/*
 * Cancels a job (js_spool_edit with JS_EDIT_CANCEL).  A pending job becomes
 * <id>.cancelled at once (returns 0, *job set if job is not NULL).  For a
 * running job <id>.cancel is written for its processor to act on:
 * -1/EINPROGRESS.  A final job: -1/EALREADY.  reason goes into the job's
 * "error".
 */
int js_spool_cancel(struct js_spool *sp, const char *id, const char *reason,
    json_t **job);
/* Whether <id>.cancel exists (1), not (0), or -1 on error. */
int js_spool_cancel_requested(struct js_spool *sp, const char *id);

/*
 * Marks a final job retrieved (jobspool(5)): sets retrieved_at, renames it to
 * <id>.retrieved keeping its status.  Returns the job as it now is; an
 * already retrieved job is returned unchanged.  -1/EBUSY (NULL) if the job
 * is not final.
 */
json_t *js_spool_retrieve(struct js_spool *sp, const char *id);

/*
 * Changes name, description and/or metadata (the keys present in changes,
 * checked by js_job_update; anything else is refused with EINVAL) of a
 * pending or final job, and priority and start time (run_at, delay) of a
 * pending one, in one js_spool_edit.  -1/EBUSY if it is running, or if it
 * is final and changes hold one of the latter.
 * Returns the updated job.
 */
json_t *js_spool_update(struct js_spool *sp, const char *id,
    const json_t *changes);

/* Removes a final or retrieved job and its log.  -1/EBUSY if pending or
 * running. */
int js_spool_remove(struct js_spool *sp, const char *id);
/* Removes <id>.<state> if it cannot be read as a job (EBADMSG: a power
 * loss emptied it in a spool opened JS_SPOOL_VOLATILE), with its sidecars
 * as js_spool_remove does (<id>.log, .cancel, .held).  0 when removed,
 * -1/ENOENT when there is no such file, -1/EEXIST when it is a readable
 * job (left alone). */
int js_spool_drop_damaged(struct js_spool *sp, const char *id,
    enum js_state state);

/* Opens <id>.log: for appending (creating it 0640) if write, else for
 * reading.  Returns an fd (O_CLOEXEC) or -1. */
int js_spool_log_open(struct js_spool *sp, const char *id, int write);

/*
 * Removes files in tmp/ older than age_ms.  If dry_run, only counts.  Calls
 * fn (if not NULL) with each name.  Returns the number (>= 0) or -1.
 */
int js_spool_clean_tmp(struct js_spool *sp, int64_t age_ms, int dry_run,
    void (*fn)(const char *name, off_t size, void *arg), void *arg);

/* js_spool_lock takes the lock of one name (a job's id, an idempotency
 * record's name), js_spool_unlock releases it; used inside the library
 * and by tests.  Returns an fd to pass back on release, or -1. */
int js_spool_lock(struct js_spool *sp, const char *id);
/* js_spool_lock of a job: -1/EINVAL if id cannot name one. */
int js_spool_lock_id(struct js_spool *sp, const char *id);
void js_spool_unlock(int lockfd);

#endif
