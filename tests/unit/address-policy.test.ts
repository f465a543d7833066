import { AddressPolicy, parseCidr, readCallbackAllowList } from '../../services/shared/net/address-policy';
import { ConfigError, EnvReader } from '../../services/shared/env-reader';

describe('AddressPolicy.refusal', () => {
  const policy = new AddressPolicy();

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'CGNAT'],
    ['100.100.100.200', 'CGNAT'], // Alibaba Cloud's metadata service
    ['169.254.169.254', 'link-local'], // AWS, GCP, Azure metadata
    ['169.254.0.1', 'link-local'],
    ['192.0.0.192', 'special-purpose'], // Oracle Cloud metadata
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'unique local'],
    ['fd00:ec2::254', 'unique local'], // AWS metadata over IPv6
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    // IPv6 forms that carry an IPv4 address are judged by it.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['0:0:0:0:0:ffff:10.0.0.1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['[::1]', 'loopback'],
  ])('refuses %s (%s)', (address, kind) => {
    expect(policy.refusal(address)).toContain(kind);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '169.253.255.255',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('lets a public address through: %s', (address) => {
    expect(policy.refusal(address)).toBeUndefined();
  });

  it('refuses anything that is not an IP address', () => {
    expect(policy.refusal('localhost')).toMatch(/not an IP address/);
    expect(policy.refusal('')).toMatch(/not an IP address/);
  });
});

describe('AddressPolicy allow-list', () => {
  it('allows the configured ranges, in either address family form, and nothing else', () => {
    const policy = new AddressPolicy({ hosts: [], cidrs: ['127.0.0.1/32', '10.20.0.0/16', 'fd12::/16'] });
    expect(policy.refusal('127.0.0.1')).toBeUndefined();
    expect(policy.refusal('::ffff:127.0.0.1')).toBeUndefined();
    expect(policy.refusal('127.0.0.2')).toContain('loopback');
    expect(policy.refusal('10.20.5.5')).toBeUndefined();
    expect(policy.refusal('10.21.0.1')).toContain('private');
    expect(policy.refusal('fd12:3456::1')).toBeUndefined();
    expect(policy.refusal('fd13::1')).toContain('unique local');
    expect(policy.refusal('169.254.169.254')).toContain('link-local');
  });

  it('allows host names exactly, or any subdomain with "*."', () => {
    const policy = new AddressPolicy({ hosts: ['hooks.internal', '*.svc.cluster.local'], cidrs: [] });
    expect(policy.hostAllowed('hooks.internal')).toBe(true);
    expect(policy.hostAllowed('HOOKS.internal.')).toBe(true);
    expect(policy.hostAllowed('x.hooks.internal')).toBe(false);
    expect(policy.hostAllowed('receiver.team.svc.cluster.local')).toBe(true);
    expect(policy.hostAllowed('svc.cluster.local')).toBe(false);
    expect(policy.hostAllowed('evilsvc.cluster.local')).toBe(false);
  });
});

describe('AddressPolicy.hostRefusal (what the API can tell without DNS)', () => {
  const policy = new AddressPolicy();

  it.each([
    ['127.0.0.1', 'loopback'],
    ['[::1]', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['[fd00:ec2::254]', 'unique local'],
    ['localhost', 'internal host name'],
    ['LOCALHOST.', 'internal host name'],
    ['api.localhost', 'internal host name'],
    ['metadata.google.internal', 'internal host name'],
  ])('refuses %s', (host, why) => {
    expect(policy.hostRefusal(host)).toContain(why);
  });

  it('leaves other names to the worker, which resolves them', () => {
    expect(policy.hostRefusal('hooks.example.com')).toBeUndefined();
    expect(policy.hostRefusal('8.8.8.8')).toBeUndefined();
    expect(policy.hostRefusal('localhost.example.com')).toBeUndefined();
  });

  it('accepts what the allow-list allows', () => {
    const allowing = new AddressPolicy({ hosts: ['localhost'], cidrs: ['127.0.0.0/8'] });
    expect(allowing.hostRefusal('localhost')).toBeUndefined();
    expect(allowing.hostRefusal('127.0.0.1')).toBeUndefined();
    expect(allowing.hostRefusal('[::1]')).toContain('loopback');
  });
});

describe('parseCidr and CALLBACK_ALLOW_*', () => {
  it.each(['10.0.0.0/8', '127.0.0.1', '0.0.0.0/0', '::/0', 'fd00::/8', '::ffff:10.0.0.0/104'])(
    'parses %s',
    (cidr) => expect(parseCidr(cidr)).toBeDefined(),
  );

  it.each([
    '10.0.0.0/33',
    '::/129',
    '10.0.0/8',
    '10.0.0.0/',
    '10.0.0.0/8/1',
    'example.com/8',
    '10.0.0.0/-1',
    '',
  ])('refuses %s', (cidr) => expect(parseCidr(cidr)).toBeUndefined());

  it('reads both lists, naming the variable at fault', () => {
    const reader = new EnvReader({
      CALLBACK_ALLOW_HOSTS: 'hooks.internal, *.svc.cluster.local',
      CALLBACK_ALLOW_CIDRS: '10.0.0.0/8,fd00::/8',
    });
    expect(readCallbackAllowList(reader)).toEqual({
      hosts: ['hooks.internal', '*.svc.cluster.local'],
      cidrs: ['10.0.0.0/8', 'fd00::/8'],
    });
    expect(() => reader.finish()).not.toThrow();

    const bad = new EnvReader({ CALLBACK_ALLOW_HOSTS: 'http://x', CALLBACK_ALLOW_CIDRS: '10.0.0.0/40' });
    readCallbackAllowList(bad);
    expect(() => bad.finish()).toThrow(ConfigError);
    expect(() => bad.finish()).toThrow(/CALLBACK_ALLOW_HOSTS[\s\S]*CALLBACK_ALLOW_CIDRS/);
  });
});
