import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Checks bodies against the component schemas of the API's own /openapi.json: `check(name, body)`
 * expects the body to be valid, and names the schema and the errors when it is not.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed JSON document
export function componentChecker(doc: any): (name: string, body: unknown) => void {
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components });
  return (name, body) => {
    const validate = ajv.getSchema(`doc#/components/schemas/${name}`)!;
    expect({ name, valid: validate(body), errors: validate.errors ?? null }).toEqual({
      name,
      valid: true,
      errors: null,
    });
  };
}
