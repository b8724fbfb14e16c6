/** Paths inside a filesystem of a time image ('/' separated, absolute) and their breadcrumbs. Pure. */

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export interface Crumb {
  name: string;
  path: string;
}

/** "/a/b" → [{ '/' }, { a, /a }, { b, /a/b }]; the first crumb is named by the caller (the volume). */
export function breadcrumbs(path: string, rootName: string): Crumb[] {
  const crumbs: Crumb[] = [{ name: rootName, path: '/' }];
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    crumbs.push({ name: part, path: at });
  }
  return crumbs;
}
