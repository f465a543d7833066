/** The release, shown in /openapi.json; tests/unit keep it equal to package.json's version. */
export const SPILLWAY_VERSION = '0.1.0';
