/** dcmjs ships no type declarations; the gateway uses only its dictionary naturalisation. */
declare module 'dcmjs';
