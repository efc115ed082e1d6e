/* mpdrec's version string. The Makefile passes it (-DMPDREC_VERSION, from
 * `git describe` or the release); a file compiled without it says
 * "unknown" rather than failing to build. */
#ifndef MPDREC_VERSION_H
#define MPDREC_VERSION_H

#ifndef MPDREC_VERSION
#define MPDREC_VERSION "unknown"
#endif

#endif
