//! scap capture files: reader, writer and the libs replay converter. Knows nothing of live drivers.
