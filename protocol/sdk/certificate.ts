/** `ark/certificate`: decode a certificate and check its signatures and quorum against an operator set. */
export { checkCertificateQuorum, checkCertificateSignatures, certificateJSON, decodeCertificate, verifyCertificate, type Certificate } from '../certificate.ts'
export { makeOperatorSet, operatorSetJSON, parseOperatorSet, type OperatorSet } from '../operator-set.ts'
